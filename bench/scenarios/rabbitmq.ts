/**
 * rabbitmq: how fast the rabbitmq sink moves events to a RabbitMQ queue with publisher
 * confirms, against moving the same number of messages between two queues on the same server.
 *
 * - Beacon: the real Dispatcher and RabbitmqSink (batches of 500, persistent messages, every
 *   message confirmed before the batch counts) draining N events pre-filled in an in-memory log
 *   (bench/recordLog.ts, via bench/sinkDrain.ts), so the figure is the sink and dispatch loop, not the disk log
 *   (the dispatch scenario measures the log's read side).
 * - Reference: a RabbitMQ shovel from queue A to queue B with `ack-mode: on-confirm`, when the
 *   rabbitmq_shovel plugin is enabled. When it is not (enabling a plugin reconfigures the
 *   shared server, which the bench never does), an equivalent client-side shovel stands in: a
 *   consumer on A with prefetch 1000 that republishes to B on a confirm channel and acks each
 *   message on A once B confirmed it, which is what the plugin does with the same ack mode.
 *
 * Both use the broker on 127.0.0.1:5672 (guest/guest), persistent messages, queues named per
 * run and deleted after. Goal: the sink at ≥ 2x the reference's msg/s.
 *
 * Runs inside `npm run bench -- --only rabbitmq`, or alone:
 *   node --import tsx bench/scenarios/rabbitmq.ts [--events N]
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Connection, type AsyncMessage } from 'rabbitmq-client';
import { rabbitmqConfigSchema } from '../../src/sinks/rabbitmq/index.js';
import { fmt, newResult, type ScenarioResult } from '../report.js';
import { benchEvents, drainThroughDispatcher, waitUntil } from '../sinkDrain.js';

export const RABBITMQ_TARGET_RATIO = 2;
const URL = 'amqp://guest:guest@127.0.0.1:5672';

interface Logger {
  log(msg: string): void;
}

async function measureSink(
  admin: Connection,
  queue: string,
  n: number,
): Promise<{ perSec: number; seconds: number; bodyBytes: number }> {
  await admin.queueDeclare({ queue, durable: true });
  const events = benchEvents(n);
  const config = rabbitmqConfigSchema.parse({
    type: 'rabbitmq',
    name: 'bench-rabbitmq',
    host: '127.0.0.1',
    queue,
    batch: { maxEvents: 500, maxWaitMs: 0 },
  });
  const { seconds, perSec } = await drainThroughDispatcher(config, events, 600_000);
  const count = (await admin.queueDeclare({ queue, passive: true })).messageCount;
  if (count < n) throw new Error(`queue ${queue} holds ${count} of ${n} messages`);
  const sample = Buffer.byteLength(JSON.stringify(events[0]));
  return { perSec, seconds, bodyBytes: sample };
}

function shovelPluginEnabled(): boolean {
  try {
    return /\brabbitmq_shovel\b/.test(
      execFileSync('rabbitmq-plugins', ['list', '-e', '-m'], { encoding: 'utf8', timeout: 30_000 }),
    );
  } catch {
    return false;
  }
}

/** Moves every message of `from` (n of them) to `to` through the real shovel plugin; msg/s. */
async function measurePluginShovel(
  admin: Connection,
  from: string,
  to: string,
  n: number,
  name: string,
): Promise<number> {
  await admin.queueDeclare({ queue: to, durable: true });
  const definition = JSON.stringify({
    'src-uri': 'amqp://',
    'src-queue': from,
    'dest-uri': 'amqp://',
    'dest-queue': to,
    'ack-mode': 'on-confirm',
    'src-delete-after': n,
  });
  const started = performance.now();
  execFileSync('rabbitmqctl', ['set_parameter', 'shovel', name, definition], { stdio: 'pipe', timeout: 30_000 });
  try {
    const done = await waitUntil(
      async () => (await admin.queueDeclare({ queue: to, passive: true })).messageCount >= n,
      600_000,
    );
    if (!done) throw new Error('the shovel did not move every message');
    return n / ((performance.now() - started) / 1000);
  } finally {
    execFileSync('rabbitmqctl', ['clear_parameter', 'shovel', name], { stdio: 'pipe', timeout: 30_000 });
  }
}

/** The same job as a shovel with ack-mode on-confirm, done by a client; msg/s. */
async function measureClientShovel(from: string, to: string, n: number): Promise<number> {
  const connection = new Connection({ url: URL });
  await connection.onConnect(5000);
  await connection.queueDeclare({ queue: to, durable: true });
  const out = await connection.acquire();
  await out.confirmSelect();
  let moved = 0;
  const started = performance.now();
  const consumer = connection.createConsumer(
    { queue: from, queueOptions: { passive: true }, qos: { prefetchCount: 1000 }, concurrency: 1000 },
    async (msg: AsyncMessage) => {
      const body = Buffer.isBuffer(msg.body)
        ? msg.body
        : Buffer.from(typeof msg.body === 'string' ? msg.body : JSON.stringify(msg.body));
      await out.basicPublish(
        { routingKey: to, durable: true, messageId: msg.messageId, contentType: 'application/octet-stream' },
        body,
      );
      moved++;
    },
  );
  const done = await waitUntil(() => moved >= n, 600_000);
  const seconds = (performance.now() - started) / 1000;
  await consumer.close();
  await out.close();
  await connection.close();
  if (!done) throw new Error(`the client shovel moved ${moved} of ${n} messages`);
  return n / seconds;
}

export async function measureRabbitmq(n: number, ctx: Logger): Promise<ScenarioResult> {
  const res = newResult('rabbitmq');
  const run = randomUUID().slice(0, 8);
  const sinkQueue = `beacon-bench-${run}-sink`;
  const shovelTo = `beacon-bench-${run}-shovelled`;
  const admin = new Connection({ url: URL });
  try {
    await admin.onConnect(5000);
    ctx.log(`rabbitmq sink: draining ${fmt.int(n)} events into queue ${sinkQueue} with confirms`);
    const sink = await measureSink(admin, sinkQueue, n);
    res.rows.push({
      scenario: 'rabbitmq',
      subject: 'rabbitmq sink (confirms, persistent, batches of 500)',
      throughput: `${fmt.int(sink.perSec)} msg/s`,
      p50: '',
      p99: '',
      notes: `${fmt.int(n)} events of ~${sink.bodyBytes} B in ${sink.seconds.toFixed(2)} s`,
    });

    // The sink's queue now holds n messages like the ones a shovel would move: move them.
    const plugin = shovelPluginEnabled();
    ctx.log(
      `reference: ${plugin ? 'rabbitmq_shovel plugin' : 'client-side shovel (the rabbitmq_shovel plugin is not enabled)'} moving ${fmt.int(n)} messages`,
    );
    const refPerSec = plugin
      ? await measurePluginShovel(admin, sinkQueue, shovelTo, n, `beacon-bench-${run}`)
      : await measureClientShovel(sinkQueue, shovelTo, n);
    const refLabel = plugin
      ? 'RabbitMQ shovel plugin (ack-mode on-confirm)'
      : 'client-side shovel, ack on confirm (plugin not enabled here)';
    res.rows.push({
      scenario: 'rabbitmq',
      subject: refLabel,
      throughput: `${fmt.int(refPerSec)} msg/s`,
      p50: '',
      p99: '',
      notes: `queue to queue on the same broker, ${fmt.int(n)} persistent messages`,
    });
    res.ratios.push({
      label: 'rabbitmq sink/shovel msg/s',
      value: sink.perSec / refPerSec,
      target: RABBITMQ_TARGET_RATIO,
    });
    res.ratios.push({ label: 'rabbitmq sink msg/s', value: sink.perSec, kind: 'absolute', unit: 'msg/s' });
    if (!plugin)
      res.notes.push(
        'The rabbitmq_shovel plugin is not enabled on this broker and the bench does not enable it; the reference is a client doing what a shovel with ack-mode on-confirm does.',
      );
    res.commands.push('node --import tsx bench/scenarios/rabbitmq.ts --events N');
  } finally {
    for (const queue of [sinkQueue, shovelTo]) await admin.queueDelete({ queue }).catch(() => {});
    await admin.close();
  }
  return res;
}

export function rabbitmqEvents(quick: boolean): number {
  return quick ? 20_000 : 100_000;
}

/** The bench runner's entry: `npm run bench -- --only rabbitmq`. */
export function rabbitmq(ctx: Logger & { opts: { quick: boolean } }): Promise<ScenarioResult> {
  return measureRabbitmq(rabbitmqEvents(ctx.opts.quick), ctx);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--events');
  const n = at > 0 ? Number(process.argv[at + 1]) : 100_000;
  const result = await measureRabbitmq(n, { log: (m) => console.log(m) });
  for (const row of result.rows) console.log(`${row.subject}: ${row.throughput} (${row.notes})`);
  for (const ratio of result.ratios)
    console.log(`${ratio.label}: ${fmt.ratio(ratio.value)}${ratio.target ? ` (target ≥ ${ratio.target})` : ''}`);
  for (const note of result.notes) console.log(note);
}
