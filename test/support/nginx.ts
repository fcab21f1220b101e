import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './freePort.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NGINX = '/usr/sbin/nginx';

export interface NginxProcess {
  url: string;
  port: number;
  /** nginx's error log so far (for failure messages). */
  errors(): Promise<string>;
  stop(): Promise<void>;
}

/** Installs Debian's nginx when it is missing (scripts/ensure-debian-packages.sh). */
export function ensureNginx(): void {
  if (existsSync(NGINX)) return;
  const res = spawnSync('sh', [join(ROOT, 'scripts', 'ensure-debian-packages.sh'), 'nginx'], { stdio: 'inherit' });
  if (res.status !== 0 || !existsSync(NGINX))
    throw new Error(
      'nginx is not installed and could not be installed; run: sh scripts/ensure-debian-packages.sh nginx',
    );
}

/**
 * Runs Debian's nginx in the foreground as a child process, with everything (config, temp
 * files, logs, pid, cache) in its own temporary prefix directory. `httpBlock` is the text of
 * the `http {}` block (e.g. a deploy/nginx example with its addresses replaced). Resolves when
 * nginx accepts connections on `port`.
 */
export async function startNginx(
  httpBlock: (paths: { prefix: string; port: number }) => string,
): Promise<NginxProcess> {
  ensureNginx();
  const prefix = await mkdtemp(join(tmpdir(), 'beacon-nginx-'));
  await mkdir(join(prefix, 'logs'));
  const port = await freePort();
  const errorLog = join(prefix, 'logs', 'error.log');
  const conf = `
${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
master_process on;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${errorLog} info;
events { worker_connections 256; }
http {
  access_log ${join(prefix, 'logs', 'access.log')};
  client_body_temp_path ${join(prefix, 'body')};
  proxy_temp_path ${join(prefix, 'proxy')};
  fastcgi_temp_path ${join(prefix, 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'uwsgi')};
  scgi_temp_path ${join(prefix, 'scgi')};
${httpBlock({ prefix, port })}
}
`;
  const confPath = join(prefix, 'nginx.conf');
  await writeFile(confPath, conf);
  const child: ChildProcess = spawn(NGINX, ['-p', prefix, '-c', confPath, '-e', errorLog], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const errors = async () => `${out}${await readFile(errorLog, 'utf8').catch(() => '')}`;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => void errors().then((e) => reject(new Error(`nginx exited with ${code}:\n${e}`)))),
  );
  await Promise.race([waitForPort(port, 10_000), exited]);
  exited.catch(() => undefined);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    errors,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const done = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await done;
      }
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms`);
}
