import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, appendFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './freePort.js';

/**
 * A private PostgreSQL primary and a streaming replica of it, for tests that need real
 * replication: the primary is made with initdb in a temp dir on a free port, the replica with
 * `pg_basebackup -R` (standby.signal and primary_conninfo written for it) and a replication
 * slot, so a replica that was stopped catches up when it starts again. Both listen on
 * 127.0.0.1 only, with unix sockets in the temp dir; the machine's own cluster is never used.
 *
 * PostgreSQL refuses to run as root, so when the tests run as root every server command runs
 * as the `postgres` user (runuser) and the temp dir is handed to it.
 */
const BIN = '/usr/lib/postgresql/15/bin';
const run = promisify(execFile);

export interface PgNode {
  port: number;
  dir: string;
  start(): Promise<void>;
  /** `immediate` is a crash as far as clients can tell: every connection drops at once. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
}

export interface PgReplication {
  primary: PgNode;
  replica: PgNode;
  /** Stops both servers and deletes their files; safe to call after a failed start. */
  teardown(): Promise<void>;
}

async function asPostgres(command: string, args: string[], timeoutMs = 30_000): Promise<string> {
  const asRoot = process.getuid?.() === 0;
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  try {
    const { stdout } = await run(file, argv, { timeout: timeoutMs });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

function node(base: string, name: string, port: number): PgNode {
  const dir = join(base, name);
  const log = join(base, `${name}.log`);
  return {
    port,
    dir,
    start: async () => {
      try {
        await asPostgres(join(BIN, 'pg_ctl'), ['-D', dir, '-l', log, '-w', '-t', '30', 'start']);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${tail(log)}`);
      }
    },
    stop: async (mode = 'fast') => {
      await asPostgres(join(BIN, 'pg_ctl'), ['-D', dir, '-m', mode, '-w', '-t', '30', 'stop']);
    },
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

export async function startPgReplication(): Promise<PgReplication> {
  const base = mkdtempSync(join(tmpdir(), 'beacon-pgrepl-'));
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(base, Number(stdout.trim()), Number(gid.trim()));
  }
  const primary = node(base, 'primary', await freePort());
  const replica = node(base, 'replica', await freePort());
  const teardown = async () => {
    for (const n of [replica, primary]) await n.stop('immediate').catch(() => {});
    rmSync(base, { recursive: true, force: true });
  };
  try {
    await asPostgres(join(BIN, 'initdb'), [
      '-D',
      primary.dir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-sync',
      '--no-instructions',
    ]);
    appendFileSync(
      join(primary.dir, 'postgresql.conf'),
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${primary.port}`,
        `unix_socket_directories = '${base}'`,
        'wal_level = replica',
        'max_wal_senders = 4',
        'max_replication_slots = 4',
        'fsync = off',
        '',
      ].join('\n'),
    );
    appendFileSync(join(primary.dir, 'pg_hba.conf'), 'host replication all 127.0.0.1/32 trust\n');
    await primary.start();
    await asPostgres('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primary.port),
      '-U',
      'postgres',
      '-D',
      replica.dir,
      '-R',
      '-X',
      'stream',
      '-C',
      '-S',
      `beacon_${replica.port}`,
    ]);
    // The copy has the primary's settings; a later line wins, so the replica only needs its port.
    appendFileSync(join(replica.dir, 'postgresql.conf'), `port = ${replica.port}\n`);
    await replica.start();
  } catch (err) {
    await teardown();
    throw err;
  }
  return { primary, replica, teardown };
}
