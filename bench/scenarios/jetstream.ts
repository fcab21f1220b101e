/**
 * jetstream: the nats sink in JetStream mode (each batch's publishes in flight at once, then
 * every ack awaited) against a plain publish-with-ack loop (`await js.publish(...)` per
 * message) with the same client library (@nats-io/jetstream) on the same server.
 *
 * - Beacon: the real Dispatcher and NatsSink (`jetstream: true`, batches of 500, the sink's
 *   defaults otherwise) draining N events from an in-memory log (bench/sinkDrain.ts).
 * - Reference: one connection publishing the same N payloads (the json codec's bytes of the
 *   same events) with the same `Nats-Msg-Id` header (the event id), awaiting each ack before
 *   the next publish.
 *
 * Each side publishes into its own stream (file storage, the sink's defaults when it creates
 * one), both created per run with unique names and subjects and deleted after; the stream's
 * message count must equal N for a figure to count. Server: nats://127.0.0.1:4222.
 * Goal: the sink at ≥ 3x the loop's msg/s.
 *
 * Runs inside `npm run bench -- --only jetstream`, or alone:
 *   node --import tsx bench/scenarios/jetstream.ts [--events N]
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { natsConfigSchema } from '../../src/sinks/nats/index.js';
import { benchEvents, drainThroughDispatcher, jsonPayload } from '../sinkDrain.js';
import { fmt, newResult, type ScenarioResult } from '../report.js';

export const JETSTREAM_TARGET_RATIO = 3;
const SERVER = 'nats://127.0.0.1:4222';
const BATCH = 500;

interface Logger {
  log(msg: string): void;
}

async function streamCount(jsm: JetStreamManager, name: string): Promise<number> {
  return (await jsm.streams.info(name)).state.messages;
}

export async function measureJetstream(n: number, ctx: Logger): Promise<ScenarioResult> {
  const res = newResult('jetstream');
  const run = randomUUID().slice(0, 8);
  const sinkStream = `beacon_bench_${run}_sink`;
  const refStream = `beacon_bench_${run}_ref`;
  const sinkSubjects = `beacon-bench.${run}.sink`;
  const refSubject = `beacon-bench.${run}.ref.pageview`;
  const nc = await connect({ servers: SERVER, name: 'beacon-bench-jetstream' });
  const jsm = await jetstreamManager(nc);
  const created: string[] = [];
  try {
    for (const [name, subject] of [
      [sinkStream, `${sinkSubjects}.>`],
      [refStream, `beacon-bench.${run}.ref.>`],
    ] as const) {
      await jsm.streams.add({
        name,
        subjects: [subject],
        storage: StorageType.File,
        duplicate_window: 120_000 * 1_000_000,
      });
      created.push(name);
    }
    const events = benchEvents(n, run);
    const bodyBytes = jsonPayload(events[0]!).length;

    ctx.log(
      `jetstream sink: draining ${fmt.int(n)} events into stream ${sinkStream} (batches of ${BATCH}, async acks)`,
    );
    const config = natsConfigSchema.parse({
      type: 'nats',
      name: 'bench-jetstream',
      servers: SERVER,
      subject: `${sinkSubjects}.{type}`,
      jetstream: true,
      batch: { maxEvents: BATCH, maxWaitMs: 0 },
    });
    const sink = await drainThroughDispatcher(config, events, 300_000);
    const inSink = await streamCount(jsm, sinkStream);
    if (inSink !== n) throw new Error(`stream ${sinkStream} holds ${inSink} messages, expected ${n}`);
    res.rows.push({
      scenario: 'jetstream',
      subject: `nats sink, JetStream (batches of ${BATCH}, async acks)`,
      throughput: `${fmt.int(sink.perSec)} msg/s`,
      p50: '',
      p99: '',
      notes: `${fmt.int(n)} events of ${bodyBytes} B in ${sink.seconds.toFixed(2)} s; stream holds ${fmt.int(inSink)}${sink.errors ? `; ${sink.errors} failed attempts retried` : ''}`,
    });

    ctx.log(`reference: publish-with-ack loop, ${fmt.int(n)} messages into stream ${refStream}`);
    const payloads = events.map((e) => ({ id: e.id, body: jsonPayload(e) }));
    const js = jetstream(nc, { timeout: 10_000 });
    const started = performance.now();
    for (const p of payloads) await js.publish(refSubject, p.body, { msgID: p.id });
    const refSeconds = (performance.now() - started) / 1000;
    const refPerSec = n / refSeconds;
    const inRef = await streamCount(jsm, refStream);
    if (inRef !== n) throw new Error(`stream ${refStream} holds ${inRef} messages, expected ${n}`);
    res.rows.push({
      scenario: 'jetstream',
      subject: 'publish-with-ack loop (await js.publish per message)',
      throughput: `${fmt.int(refPerSec)} msg/s`,
      p50: '',
      p99: '',
      notes: `same client, server, payloads and Nats-Msg-Id; ${fmt.int(n)} in ${refSeconds.toFixed(2)} s; stream holds ${fmt.int(inRef)}`,
    });

    res.ratios.push({
      label: 'jetstream sink/publish-with-ack loop msg/s',
      value: sink.perSec / refPerSec,
      target: JETSTREAM_TARGET_RATIO,
    });
    res.ratios.push({ label: 'jetstream sink msg/s', value: sink.perSec, kind: 'absolute', unit: 'msg/s' });
    res.notes.push(
      `sink driven through a real Dispatcher over an in-memory log (batch.maxEvents ${BATCH}, maxWaitMs 0); its time includes connecting and the JetStream check. Both streams: file storage, 2 min duplicate window, created for the run and deleted after; each held exactly ${fmt.int(n)} messages.`,
    );
    res.commands.push('node --import tsx bench/scenarios/jetstream.ts --events N');
  } finally {
    for (const name of created) await jsm.streams.delete(name).catch(() => false);
    await nc.close();
  }
  return res;
}

export function jetstreamEvents(quick: boolean): number {
  return quick ? 10_000 : 50_000;
}

/** The bench runner's entry: `npm run bench -- --only jetstream`. */
export function jetstreamScenario(ctx: Logger & { opts: { quick: boolean } }): Promise<ScenarioResult> {
  return measureJetstream(jetstreamEvents(ctx.opts.quick), ctx);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--events');
  const n = at > 0 ? Number(process.argv[at + 1]) : jetstreamEvents(false);
  const result = await measureJetstream(n, { log: (m) => console.log(m) });
  for (const row of result.rows) console.log(`${row.subject}: ${row.throughput} (${row.notes})`);
  for (const ratio of result.ratios)
    console.log(`${ratio.label}: ${fmt.ratio(ratio.value)}${ratio.target ? ` (target ≥ ${ratio.target})` : ''}`);
}
