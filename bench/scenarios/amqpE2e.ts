/**
 * amqp-e2e: Beacon as a real process (dist/, started by bench/beacon.ts) with an amqp source
 * and a rabbitmq sink: RabbitMQ queue → Beacon's disk log (fsync before the source acks) →
 * rabbitmq sink (publisher confirms) → another queue, on the broker at 127.0.0.1:5672.
 *
 * The input queue is declared and filled with N persistent messages (one JSON event each,
 * published with confirms) before Beacon starts; Beacon is then started and the figure is
 *   (N − messages already in the target queue when /readyz answered) / (time from /readyz
 *   until the target queue holds N).
 * The time from spawning Beacon is reported too. Both queues are named per run and deleted
 * after. No reference: a broker-to-broker copy through a durable log has no same-machine
 * equivalent to compare with, so this is an absolute events/s figure, for trend only.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from 'rabbitmq-client';
import { BeaconUnavailable, checkBeaconPresent, startBeacon, type BeaconServer, type SinkSpec } from '../beacon.js';
import { fmt, newResult, type ScenarioResult } from '../report.js';
import type { RssPeak } from '../rss.js';
import { waitUntil } from '../sinkDrain.js';

const URL = 'amqp://guest:guest@127.0.0.1:5672';
const PREFETCH = 1000;

interface Ctx {
  log(msg: string): void;
  tmp?: string;
  rssPeaks?: RssPeak[];
  opts?: { referenceOnly?: boolean };
}

function inputMessage(i: number, run: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: `e2e-${run}-${i}`,
      type: i % 5 === 0 ? 'click' : 'pageview',
      url: `https://example.com/docs/page-${i % 97}`,
      sessionId: `s-${i % 1000}`,
      props: { k: 'v', n: i % 20 },
    }),
  );
}

export async function measureAmqpE2e(n: number, ctx: Ctx): Promise<ScenarioResult> {
  const res = newResult('amqp-e2e');
  const label = 'amqp-e2e events/s (source → log → rabbitmq sink)';
  if (ctx.opts?.referenceOnly) {
    res.ratios.push({ label, value: NaN, kind: 'absolute', unit: 'ev/s' });
    res.notes.push('reference only (--reference-only): this scenario has no reference');
    return res;
  }
  try {
    checkBeaconPresent();
  } catch (e) {
    res.ratios.push({ label, value: NaN, kind: 'absolute', unit: 'ev/s' });
    res.error = (e as Error).message;
    return res;
  }
  const run = randomUUID().slice(0, 8);
  const input = `beacon-bench-${run}-e2e-in`;
  const output = `beacon-bench-${run}-e2e-out`;
  const ownTmp = ctx.tmp ? undefined : mkdtempSync(join(tmpdir(), 'beacon-bench-e2e-'));
  const dir = join(ctx.tmp ?? ownTmp!, 'amqp-e2e');
  const admin = new Connection({ url: URL });
  let beacon: BeaconServer | undefined;
  try {
    await admin.onConnect(5000);
    await admin.queueDeclare({ queue: input, durable: true });
    await admin.queueDeclare({ queue: output, durable: true });
    ctx.log(`amqp-e2e: publishing ${fmt.int(n)} messages to ${input} (confirms)`);
    const pub = admin.createPublisher({ confirm: true, maxAttempts: 2 });
    const fillStart = performance.now();
    for (let i = 0; i < n; i += 1000) {
      const chunk = Array.from({ length: Math.min(1000, n - i) }, (_, k) =>
        pub.send({ routingKey: input, durable: true, contentType: 'application/json' }, inputMessage(i + k, run)),
      );
      await Promise.all(chunk);
    }
    const fillSec = (performance.now() - fillStart) / 1000;
    await pub.close();
    const inCount = (await admin.queueDeclare({ queue: input, passive: true })).messageCount;
    if (inCount !== n) throw new Error(`input queue ${input} holds ${inCount} of ${n} messages after the fill`);

    const outCount = async () => (await admin.queueDeclare({ queue: output, passive: true })).messageCount;
    const sources = `sources:\n  - { type: "amqp", name: "bench-amqp", host: "127.0.0.1", queue: ${JSON.stringify(input)}, prefetch: ${PREFETCH} }`;
    const sinks: SinkSpec[] = [{ name: 'bench-rabbitmq', type: 'rabbitmq', host: '127.0.0.1', queue: output }];
    ctx.log(
      `amqp-e2e: starting Beacon (amqp source on ${input}, prefetch ${PREFETCH} → log → rabbitmq sink to ${output})`,
    );
    const spawned = performance.now();
    try {
      beacon = await startBeacon({ dir, sinks, extraYaml: sources });
    } catch (e) {
      throw e instanceof BeaconUnavailable ? e : new Error(`Beacon: ${(e as Error).message}`);
    }
    const ready = performance.now();
    const atReady = await outCount();
    let last = atReady;
    let lastLog = Date.now();
    const done = await waitUntil(
      async () => {
        last = await outCount();
        if (Date.now() - lastLog > 3000) {
          lastLog = Date.now();
          ctx.log(`amqp-e2e: ${fmt.int(last)} of ${fmt.int(n)} in ${output}`);
        }
        return last >= n;
      },
      Math.max(120_000, n / 2),
      50,
    );
    const end = performance.now();
    if (!done)
      throw new Error(`only ${last} of ${n} messages reached ${output} within ${((end - ready) / 1000).toFixed(0)} s`);
    const leftIn = (await admin.queueDeclare({ queue: input, passive: true })).messageCount;
    const perSec = (n - atReady) / ((end - ready) / 1000);
    const fromSpawn = n / ((end - spawned) / 1000);
    res.rows.push({
      scenario: 'amqp-e2e',
      subject: 'Beacon: amqp source → log → rabbitmq sink',
      throughput: `${fmt.int(perSec)} ev/s`,
      p50: '',
      p99: '',
      notes: `${fmt.int(n - atReady)} events from /readyz in ${((end - ready) / 1000).toFixed(2)} s (${fmt.int(atReady)} already through at /readyz); ${fmt.int(fromSpawn)} ev/s counting Beacon's start (${((end - spawned) / 1000).toFixed(2)} s); target queue ${fmt.int(last)}, input left ${leftIn}`,
    });
    res.ratios.push({ label, value: perSec, kind: 'absolute', unit: 'ev/s' });
    res.notes.push(
      `no reference (an absolute figure, for trend). ${fmt.int(n)} messages (one JSON event each, ~${inputMessage(0, run).length} B) pre-filled with confirms at ${fmt.int(n / fillSec)} msg/s before Beacon started; source prefetch ${PREFETCH}, sink defaults (batches of 500, confirms, persistent); Beacon from dist/ as a real process, workers auto.`,
    );
    const peak = await beacon.stop();
    beacon = undefined;
    ctx.rssPeaks?.push(peak);
  } catch (e) {
    if (!res.ratios.length) res.ratios.push({ label, value: NaN, kind: 'absolute', unit: 'ev/s' });
    res.error = (e as Error).message;
  } finally {
    if (beacon) ctx.rssPeaks?.push(await beacon.stop());
    for (const queue of [input, output]) await admin.queueDelete({ queue }).catch(() => {});
    await admin.close();
    if (ownTmp) rmSync(ownTmp, { recursive: true, force: true });
  }
  return res;
}

export function amqpE2eEvents(quick: boolean): number {
  return quick ? 10_000 : 50_000;
}

/** The bench runner's entry: `npm run bench -- --only amqp-e2e`. */
export function amqpE2e(ctx: Ctx & { opts: { quick: boolean } }): Promise<ScenarioResult> {
  return measureAmqpE2e(amqpE2eEvents(ctx.opts.quick), ctx);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--events');
  const n = at > 0 ? Number(process.argv[at + 1]) : amqpE2eEvents(false);
  const result = await measureAmqpE2e(n, { log: (m) => console.log(m) });
  for (const row of result.rows) console.log(`${row.subject}: ${row.throughput} (${row.notes})`);
  for (const note of result.notes) console.log(note);
  if (result.error) console.error(`error: ${result.error}`);
}
