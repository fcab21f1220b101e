import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Admin, Consumer } from 'kafkajs';
import { fileURLToPath } from 'node:url';

/**
 * librdkafka's mock cluster (shared/tools/kafka-mock) as a test service: a real Kafka wire
 * protocol broker in memory, started per test file. `scripts/ensure-kafka-mock.sh` builds it
 * on first use (installing librdkafka-dev and gcc); tests skip only when those packages cannot
 * be installed, and fail on any other problem.
 */
const REPO = fileURLToPath(new URL('../..', import.meta.url));

let located: { binary?: string; skip?: string } | undefined;

/** The broker binary, or why the Kafka tests must skip. Throws when the build itself fails. */
export function kafkaMockBinary(): { binary?: string; skip?: string } {
  if (located) return located;
  const res = spawnSync('sh', ['scripts/ensure-kafka-mock.sh'], { cwd: REPO, encoding: 'utf8' });
  if (res.status === 3) {
    located = {
      skip: `Kafka tests skipped: librdkafka-dev cannot be installed on this machine, so the mock broker cannot be built (${res.stderr.trim().split('\n').pop()})`,
    };
  } else if (res.status !== 0) {
    throw new Error(`scripts/ensure-kafka-mock.sh failed (${res.status}):\n${res.stderr}`);
  } else {
    located = { binary: res.stdout.trim().split('\n').pop()! };
  }
  return located;
}

export interface KafkaMock {
  /** Bootstrap servers as the mock printed them, `127.0.0.1:PORT[,...]`. */
  bootstrap: string;
  /** The first broker's port. */
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts the mock with `topics` created up front (`name:partitions`); resolves with the
 * bootstrap servers from its first stdout line, or rejects when it exits first.
 */
export async function startKafkaMock(topics: readonly string[], brokers = 1): Promise<KafkaMock> {
  const { binary, skip } = kafkaMockBinary();
  if (!binary) throw new Error(skip);
  const child = spawn(binary, [String(brokers), ...topics], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const bootstrap = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`kafka-mockbroker printed no address in 10 s: ${stderr}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kafka-mockbroker exited with ${code} before it was ready: ${stderr}`));
    });
  });
  child.stdout!.resume();
  return { bootstrap, port: Number(bootstrap.split(',')[0]!.split(':')[1]), stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

let patched = false;

/**
 * The librdkafka mock answers Metadata with controller id 0, a broker that does not exist (it
 * has no controller). kafkajs's idempotent producer asks "the controller" for its producer id,
 * which any broker may answer, so against the mock it fails with "Broker 0 not found". This
 * lets kafkajs pick the first known broker when the named controller is not in the metadata.
 * Tests only: a real cluster always names its controller.
 */
export function tolerateMockController(): void {
  if (patched) return;
  patched = true;
  const require = createRequire(import.meta.url);
  const Cluster = require('kafkajs/src/cluster/index.js') as { prototype: Record<string, unknown> };
  const original = Cluster.prototype.findControllerBroker as (this: unknown) => Promise<unknown>;
  Cluster.prototype.findControllerBroker = async function (this: {
    brokerPool: { metadata?: { controllerId?: number; brokers: { nodeId: number }[] } };
    findBroker(args: { nodeId: number }): Promise<unknown>;
  }) {
    const metadata = this.brokerPool.metadata;
    const first = metadata?.brokers[0];
    if (metadata && first && !metadata.brokers.some((b) => b.nodeId === metadata.controllerId)) {
      return this.findBroker({ nodeId: first.nodeId });
    }
    return original.call(this);
  };
}

export interface ReadMessage {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
}

/**
 * Reads topics back with a kafkajs consumer (one group, from the beginning) into `messages`.
 * `mark()` remembers the current end of every partition so a later `since()` returns only
 * what arrived after it; `caughtUp()` waits until the consumer has read up to the end.
 */
export class KafkaTopicReader {
  readonly messages: ReadMessage[] = [];
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private marks = new Map<string, number>();
  private readonly seen = new Set<string>();

  constructor(
    private readonly bootstrap: string,
    private readonly topics: readonly string[],
  ) {}

  async start(): Promise<void> {
    const { Kafka, logLevel } = (await import('kafkajs')).default;
    const kafka = new Kafka({
      brokers: this.bootstrap.split(','),
      clientId: 'beacon-test-reader',
      logLevel: logLevel.NOTHING,
    });
    this.admin = kafka.admin();
    await this.admin.connect();
    this.consumer = kafka.consumer({
      groupId: `beacon-test-${process.pid}-${Math.random().toString(36).slice(2)}`,
      maxWaitTimeInMs: 50,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        // A rebalance may hand the same offsets over again: keep each once.
        const id = `${topic}/${partition}/${message.offset}`;
        if (this.seen.has(id)) return;
        this.seen.add(id);
        this.messages.push({
          topic,
          partition,
          offset: Number(message.offset),
          key: message.key,
          value: message.value,
        });
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => {});
    await this.admin?.disconnect().catch(() => {});
  }

  private async ends(): Promise<Map<string, number>> {
    const ends = new Map<string, number>();
    for (const topic of this.topics) {
      for (const p of await this.admin!.fetchTopicOffsets(topic)) ends.set(`${topic}/${p.partition}`, Number(p.high));
    }
    return ends;
  }

  /** Waits until every message written so far has been read. */
  async caughtUp(timeoutMs = 10_000): Promise<void> {
    const ends = await this.ends();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const read = new Map<string, number>();
      for (const m of this.messages) {
        const k = `${m.topic}/${m.partition}`;
        read.set(k, Math.max(read.get(k) ?? -1, m.offset + 1));
      }
      if ([...ends].every(([k, end]) => (read.get(k) ?? 0) >= end)) return;
      if (Date.now() > deadline)
        throw new Error(
          `kafka reader did not catch up: ends ${JSON.stringify([...ends])}, read ${JSON.stringify([...read])}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Remembers the end of every partition (of `topic`, or all): `since()` returns what comes after. */
  async mark(topic?: string): Promise<void> {
    for (const [k, end] of await this.ends())
      if (topic === undefined || k.startsWith(`${topic}/`)) this.marks.set(k, end);
  }

  /** Messages after the last mark, in partition then offset order. */
  since(): ReadMessage[] {
    return this.messages
      .filter((m) => m.offset >= (this.marks.get(`${m.topic}/${m.partition}`) ?? 0))
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.offset - b.offset);
  }
}
