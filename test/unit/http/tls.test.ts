import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiHttpServer } from '../../../src/api/apiHttpServer.js';
import { configSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { readTlsFiles } from '../../../src/net/tls.js';
import { makeTestCertificates, type TestCertificates } from '../../support/tlsCerts.js';
import { waitUntil } from '../../support/waitFor.js';
import { startCollector, type Collector } from './harness.js';

/** The SHA-256 fingerprint of the certificate the server presents. */
function peerFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

function httpsGet(port: number, path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

function tlsError(tls: Record<string, unknown>): string {
  try {
    readTlsFiles(configSchema.parse({ server: { tls } }).server.tls!);
  } catch (err) {
    assert.ok(isBeaconError(err));
    assert.equal(err.code, 'BEACON_E_TLS_FILE');
    return err.message;
  }
  assert.fail('the files were accepted');
}

describe('the collector over TLS (server.tls)', () => {
  let dir: string;
  let first: TestCertificates;
  let second: TestCertificates;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'beacon-tls-'));
    await Promise.all([mkdir(join(dir, 'a')), mkdir(join(dir, 'b')), mkdir(join(dir, 'live'))]);
    [first, second] = await Promise.all([makeTestCertificates(join(dir, 'a')), makeTestCertificates(join(dir, 'b'))]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('answers a pixel over https, sending the intermediate from `ca` so a client trusting only the root verifies it', async () => {
    const collector = await startCollector({
      server: { tls: { cert: first.leaf, key: first.key, ca: first.intermediate } },
    });
    try {
      const answer = await httpsGet(collector.port, '/t/pageview?path=/secure', first.rootCaPem);
      assert.equal(answer.status, 204);
      assert.deepEqual(
        collector.recorder.events.map((e) => e.props),
        [{ path: '/secure' }],
      );
    } finally {
      await collector.close();
    }
  });

  it('fails the handshake for a client that does not trust the chain', async () => {
    const collector = await startCollector({ server: { tls: { cert: first.leaf, key: first.key } } });
    try {
      await assert.rejects(
        httpsGet(collector.port, '/t/x', first.rootCaPem),
        /unable to verify|issuer/i,
        'the leaf alone does not chain to the root',
      );
    } finally {
      await collector.close();
    }
  });

  it('loads a renewed certificate from disk without a restart', async () => {
    const cert = join(dir, 'live', 'cert.pem');
    const key = join(dir, 'live', 'key.pem');
    await copyFile(first.chain, cert);
    await copyFile(first.key, key);
    let collector: Collector | undefined;
    try {
      collector = await startCollector({ server: { tls: { cert, key, checkEvery: '50ms' } } });
      const before = await peerFingerprint(collector.port, first.rootCaPem);
      // Half a renewal (a new certificate with the old key) is not loaded: the old one keeps serving.
      await copyFile(second.chain, cert);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await peerFingerprint(collector.port, first.rootCaPem), before);
      await copyFile(second.key, key);
      let after = before;
      await waitUntil(
        'the renewed certificate',
        async () => (after = await peerFingerprint(collector!.port, second.rootCaPem).catch(() => before)) !== before,
        5000,
      );
      assert.notEqual(after, before);
      assert.equal((await httpsGet(collector.port, '/t/x', second.rootCaPem)).status, 204);
    } finally {
      await collector?.close();
    }
  });

  it('loads a renewed certificate without a restart in --role api too (its own HTTPS server)', async () => {
    await mkdir(join(dir, 'live-api'));
    const cert = join(dir, 'live-api', 'cert.pem');
    const key = join(dir, 'live-api', 'key.pem');
    await copyFile(first.chain, cert);
    await copyFile(first.key, key);
    const api = createApiHttpServer({
      server: configSchema.parse({ server: { tls: { cert, key, checkEvery: '50ms' } } }).server,
      handler: async () => undefined,
      logger: silentLogger,
    });
    try {
      const { port } = await api.listen(0, '127.0.0.1');
      const before = await peerFingerprint(port, first.rootCaPem);
      await copyFile(second.chain, cert);
      await copyFile(second.key, key);
      let after = before;
      await waitUntil(
        'the renewed certificate',
        async () => (after = await peerFingerprint(port, second.rootCaPem).catch(() => before)) !== before,
        5000,
      );
      assert.notEqual(after, before);
      assert.equal((await httpsGet(port, '/healthz', second.rootCaPem)).status, 200);
    } finally {
      await api.drain(1000);
    }
  });

  it("refuses at start a file it cannot read, or a key that is not the certificate's", async () => {
    assert.match(
      tlsError({ cert: join(dir, 'nope.pem'), key: first.key }),
      /server\.tls\.cert: cannot read .*nope\.pem \(ENOENT\)/,
    );
    assert.match(
      tlsError({ cert: first.leaf, key: second.key }),
      /do not make a TLS certificate .*key must belong to the certificate/,
    );
    await writeFile(join(dir, 'garbage.pem'), 'not a certificate');
    assert.match(tlsError({ cert: join(dir, 'garbage.pem'), key: first.key }), /both must be PEM/);
  });
});
