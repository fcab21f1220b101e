import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort } from './freePort.js';

/** The Debian nats-server the machine runs on 4222; the cluster runs more of it on free ports. */
export const NATS_SERVER = process.env.BEACON_NATS_SERVER ?? '/usr/sbin/nats-server';

export interface NatsNode {
  readonly name: string;
  /** Client URL, `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly alive: boolean;
  readonly pid: number | undefined;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** Every node's client URL: what `log.servers` lists. */
  readonly urls: string[];
  /** SIGKILL one node and wait until it is gone. */
  kill9(index: number): Promise<void>;
  /** Starts a killed node again on its ports and store dir; resolves once it answers clients. */
  restart(index: number): Promise<void>;
  /** The node (index) that leads a stream's replicas now, from the stream's info. */
  streamLeader(stream: string): Promise<number>;
  /** The tail of a node's log, for a failing assertion. */
  logTail(index: number): Promise<string>;
  /** Stops every node and removes its files. */
  stop(): Promise<void>;
}

interface NodeState {
  name: string;
  port: number;
  clusterPort: number;
  configPath: string;
  logPath: string;
  child: ChildProcess | undefined;
}

/**
 * A JetStream cluster of `size` real nats-server processes on loopback: each with its own
 * client and route ports (free ports), a `jetstream { store_dir }` of its own under one temp
 * dir, and routes to every other node. Resolves once every node answers and JetStream has
 * elected its meta leader (a stream can be created).
 */
export async function startNatsCluster(options: { size?: number; name?: string } = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'beacon-nats-cluster-'));
  const clusterName = options.name ?? `beacon-test-${process.pid}`;
  const states: NodeState[] = [];
  for (let i = 0; i < size; i++)
    states.push({
      name: `n${i + 1}`,
      port: await freePort(),
      clusterPort: await freePort(),
      configPath: '',
      logPath: '',
      child: undefined,
    });
  for (const s of states) {
    const store = join(dir, s.name);
    await mkdir(store, { recursive: true });
    s.configPath = join(dir, `${s.name}.conf`);
    s.logPath = join(dir, `${s.name}.log`);
    const routes = states.filter((o) => o !== s).map((o) => `nats-route://127.0.0.1:${o.clusterPort}`);
    await writeFile(
      s.configPath,
      [
        `server_name: ${s.name}`,
        `listen: 127.0.0.1:${s.port}`,
        `jetstream { store_dir: ${JSON.stringify(store)}, max_file_store: 1GB, max_memory_store: 64MB }`,
        `cluster { name: ${clusterName}, listen: 127.0.0.1:${s.clusterPort}, routes: [${routes.join(', ')}] }`,
        '',
      ].join('\n'),
    );
  }

  async function launch(s: NodeState): Promise<void> {
    const out = createWriteStream(s.logPath, { flags: 'a' });
    const child = spawn(NATS_SERVER, ['-c', s.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    s.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`nats-server ${s.name} exited with ${code} before it answered; log ${s.logPath}`)),
      ),
    );
    await Promise.race([answers(`nats://127.0.0.1:${s.port}`, 20_000), exited]);
  }

  const cluster: NatsCluster = {
    nodes: states.map((s) => ({
      name: s.name,
      url: `nats://127.0.0.1:${s.port}`,
      port: s.port,
      get alive() {
        return s.child !== undefined && s.child.exitCode === null && s.child.signalCode === null;
      },
      get pid() {
        return s.child?.pid;
      },
    })),
    urls: states.map((s) => `nats://127.0.0.1:${s.port}`),
    async kill9(index) {
      const child = states[index]!.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await gone;
    },
    async restart(index) {
      await launch(states[index]!);
    },
    async streamLeader(stream) {
      const live = cluster.nodes.filter((n) => n.alive).map((n) => n.url);
      const nc = await connect({ servers: live, timeout: 5000 });
      const deadline = Date.now() + 15_000;
      try {
        // Asked again while the stream has no leader yet, or the busy machine answers late.
        for (;;) {
          let leader: string | undefined;
          try {
            leader = (await (await jetstreamManager(nc, { timeout: 5000 })).streams.info(stream)).cluster?.leader;
          } catch (err) {
            if (Date.now() > deadline) throw err;
          }
          const index = states.findIndex((s) => s.name === leader);
          if (index >= 0) return index;
          if (Date.now() > deadline)
            throw new Error(
              `stream ${stream} has no leader among ${states.map((s) => s.name).join(', ')} (got ${leader})`,
            );
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        await nc.close();
      }
    },
    async logTail(index) {
      const text = await readFile(states[index]!.logPath, 'utf8').catch(() => '');
      return text.slice(-3000);
    },
    async stop() {
      await Promise.all(
        states.map(async (s) => {
          const child = s.child;
          if (!child || child.exitCode !== null || child.signalCode !== null) return;
          const gone = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await gone;
          clearTimeout(timer);
        }),
      );
      await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(states.map(launch));
    await jetStreamReady(cluster.urls, 30_000);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Resolves once a client can connect to `url`. */
async function answers(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const nc = await connect({ servers: url, timeout: 1000 });
      await nc.close();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`nats-server at ${url} did not answer within ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Resolves once JetStream answers account info (the cluster has a meta leader). */
async function jetStreamReady(urls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers: urls, timeout: 5000 });
  try {
    for (;;) {
      try {
        await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(
            `the JetStream cluster at ${urls.join(', ')} was not ready within ${timeoutMs} ms: ${(err as Error).message}`,
          );
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await nc.close();
  }
}
