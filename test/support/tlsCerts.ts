import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  /** Root CA certificate (PEM path): what a client trusts. */
  rootCa: string;
  /** Intermediate CA certificate, signed by the root (PEM path). */
  intermediate: string;
  /** Server certificate for localhost and 127.0.0.1, signed by the intermediate (PEM path, leaf only). */
  leaf: string;
  /** The leaf followed by the intermediate (PEM path): a full chain in one file. */
  chain: string;
  /** The server certificate's private key (PEM path). */
  key: string;
  /** The root CA's PEM text, for clients. */
  rootCaPem: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 });
}

/**
 * A root CA, an intermediate and a server certificate for `localhost`/`127.0.0.1`, made with
 * Debian's openssl in `dir` (EC P-256 keys, valid two days). Clients trust only the root, so a
 * server must send the intermediate for the chain to verify.
 */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await writeFile(
    join(dir, 'ca.ext'),
    'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
  );
  await writeFile(
    join(dir, 'leaf.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nauthorityKeyIdentifier=keyid\n',
  );
  await openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'root.key',
    '-out',
    'root.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Beacon Test Root CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(dir, [
    'req',
    ...ec,
    '-keyout',
    'int.key',
    '-out',
    'int.csr',
    '-subj',
    '/CN=Beacon Test Intermediate CA',
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'int.csr',
    '-CA',
    'root.pem',
    '-CAkey',
    'root.key',
    '-CAcreateserial',
    '-out',
    'int.pem',
    '-days',
    '2',
    '-extfile',
    'ca.ext',
  ]);
  await openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'int.pem',
    '-CAkey',
    'int.key',
    '-CAcreateserial',
    '-out',
    'leaf.pem',
    '-days',
    '2',
    '-extfile',
    'leaf.ext',
  ]);
  const [leaf, intermediate, rootCaPem] = await Promise.all(
    ['leaf.pem', 'int.pem', 'root.pem'].map((f) => readFile(join(dir, f), 'utf8')),
  );
  await writeFile(join(dir, 'chain.pem'), leaf! + intermediate!);
  return {
    rootCa: join(dir, 'root.pem'),
    intermediate: join(dir, 'int.pem'),
    leaf: join(dir, 'leaf.pem'),
    chain: join(dir, 'chain.pem'),
    key: join(dir, 'server.key'),
    rootCaPem: rootCaPem!,
  };
}
