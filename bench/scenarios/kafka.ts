/**
 * kafka: the kafka sink against `kcat -P` (librdkafka, Debian package `kcat`) producing the same
 * messages to the same broker: librdkafka's in-memory mock cluster (test/support/kafkaMock.ts,
 * built by scripts/ensure-kafka-mock.sh from ../shared/tools/kafka-mock), started for the run
 * with one topic of 8 partitions per side (see PARTITIONS).
 *
 * - Beacon: the real Dispatcher and KafkaSink (one sendBatch per batch of 500, acks all,
 *   idempotent producer, one request in flight: its defaults) draining N events from an
 *   in-memory log (bench/sinkDrain.ts).
 * - Reference: `kcat -P -K '\t' -l FILE -X acks=all -X enable.idempotence=true` sending the
 *   same N records (key = event id, as the sink keys events without partyId; value = the json
 *   codec's bytes) from a file; timed from spawn to exit (kcat flushes and waits for every
 *   delivery report before exiting).
 *
 * Neither figure counts unless verified: each topic's high watermarks must sum to N, and both topics
 * are read back with `kcat -C -e` and must hold exactly the N expected key/value pairs.
 * No target: librdkafka is a C producer batching by linger.ms; the ratio is for trend.
 *
 * Runs inside `npm run bench -- --only kafka`, or alone:
 *   node --import tsx bench/scenarios/kafka.ts [--events N]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../beacon.js';
import { run } from '../proc.js';
import { fmt, newResult, type ScenarioResult } from '../report.js';
import { benchEvents, drainThroughDispatcher, jsonPayload } from '../sinkDrain.js';
import { kafkaConfigSchema } from '../../src/sinks/kafka/index.js';
import { startKafkaMock, tolerateMockController, type KafkaMock } from '../../test/support/kafkaMock.js';

const BATCH = 500;
/**
 * Partitions per topic. The mock keeps only about 5 MiB per partition (older records are
 * trimmed: with one partition a read from the beginning started at offset 9,500 of 30,000),
 * so records are spread over enough partitions that every one of them can be read back.
 */
const PARTITIONS = 8;

interface Logger {
  log(msg: string): void;
}

function ensureKcat(): string {
  const r = spawnSync('sh', ['scripts/ensure-debian-packages.sh', 'kcat'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kcat is not installed and could not be (${r.stderr.trim().split('\n').pop()})`);
  const v = execFileSync('kcat', ['-V'], { encoding: 'utf8' });
  return `kcat ${/Version (\S+)/.exec(v)?.[1] ?? '?'} (librdkafka ${/librdkafka (\S+)/.exec(v)?.[1] ?? '?'})`;
}

/**
 * Every record of `topic` as `key\tvalue` lines (kcat -C to the end of every partition), sorted;
 * and the sum of the partitions' high watermarks (kcat -Q, timestamp -1).
 */
function readBack(bootstrap: string, topic: string): { lines: string[]; high: number } {
  const queries = Array.from({ length: PARTITIONS }, (_, p) => ['-t', `${topic}:${p}:-1`]).flat();
  const q = execFileSync('kcat', ['-Q', '-b', bootstrap, ...queries], { encoding: 'utf8', timeout: 30_000 });
  const high = [...q.matchAll(/offset (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  const out = execFileSync(
    'kcat',
    ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\\t%s\\n'],
    { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 120_000 },
  );
  return { lines: out.split('\n').filter(Boolean).sort(), high };
}

const digest = (lines: readonly string[]) => createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);

export async function measureKafka(n: number, ctx: Logger): Promise<ScenarioResult> {
  const res = newResult('kafka');
  const kcatVersion = ensureKcat();
  const runId = randomUUID().slice(0, 8);
  const sinkTopic = `beacon-bench-${runId}-sink`;
  const refTopic = `beacon-bench-${runId}-kcat`;
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-kafka-'));
  let mock: KafkaMock | undefined;
  try {
    mock = await startKafkaMock([`${sinkTopic}:${PARTITIONS}`, `${refTopic}:${PARTITIONS}`]);
    ctx.log(`kafka: librdkafka mock broker on ${mock.bootstrap}`);
    tolerateMockController();
    const events = benchEvents(n, runId);
    const expected = events.map((e) => `${e.id}\t${jsonPayload(e).toString('utf8')}`).sort();
    const bodyBytes = jsonPayload(events[0]!).length;

    ctx.log(`kafka sink: draining ${fmt.int(n)} events into ${sinkTopic} (batches of ${BATCH}, acks all, idempotent)`);
    const config = kafkaConfigSchema.parse({
      type: 'kafka',
      name: 'bench-kafka',
      brokers: mock.bootstrap.split(','),
      topic: sinkTopic,
      batch: { maxEvents: BATCH, maxWaitMs: 0 },
    });
    const sink = await drainThroughDispatcher(config, events, 300_000);

    const file = join(dir, 'records.tsv');
    writeFileSync(file, `${events.map((e) => `${e.id}\t${jsonPayload(e).toString('utf8')}`).join('\n')}\n`);
    const kcatArgs = [
      '-P',
      '-b',
      mock.bootstrap,
      '-t',
      refTopic,
      '-K',
      '\t',
      '-X',
      'acks=all',
      '-X',
      'enable.idempotence=true',
      '-l',
      file,
    ];
    ctx.log(`reference: kcat -P, ${fmt.int(n)} records into ${refTopic}`);
    const started = performance.now();
    const k = await run('kcat', kcatArgs, 300_000);
    const refSeconds = (performance.now() - started) / 1000;
    if (k.code !== 0 || k.timedOut)
      throw new Error(
        `kcat -P exited ${k.timedOut ? 'on timeout' : `with ${k.code}`}: ${k.stderr.trim().split('\n').slice(-3).join(' / ')}`,
      );
    const refPerSec = n / refSeconds;

    ctx.log('kafka: reading both topics back with kcat -C');
    const verified: string[] = [];
    for (const [who, topic] of [
      ['sink', sinkTopic],
      ['kcat', refTopic],
    ] as const) {
      const back = readBack(mock.bootstrap, topic);
      if (back.high !== n) throw new Error(`${who}: topic ${topic} high watermarks sum to ${back.high}, expected ${n}`);
      if (back.lines.length !== n || digest(back.lines) !== digest(expected)) {
        throw new Error(`${who}: topic ${topic} read back ${back.lines.length} records that differ from the ${n} sent`);
      }
      verified.push(
        `${who} topic: high watermarks sum to ${fmt.int(back.high)}, ${fmt.int(back.lines.length)} records read back, equal to those sent`,
      );
    }
    res.rows.push({
      scenario: 'kafka',
      subject: `kafka sink (sendBatch of ${BATCH}, acks all, idempotent)`,
      throughput: `${fmt.int(sink.perSec)} msg/s`,
      p50: '',
      p99: '',
      notes: `${fmt.int(n)} records of ${bodyBytes} B in ${sink.seconds.toFixed(2)} s${sink.errors ? `; ${sink.errors} failed attempts retried` : ''}; verified`,
    });
    res.rows.push({
      scenario: 'kafka',
      subject: 'kcat -P (librdkafka, acks all, idempotent)',
      throughput: `${fmt.int(refPerSec)} msg/s`,
      p50: '',
      p99: '',
      notes: `same records, same mock broker; ${fmt.int(n)} in ${refSeconds.toFixed(2)} s incl. process start; verified`,
    });
    res.ratios.push({ label: 'kafka sink/kcat -P msg/s', value: sink.perSec / refPerSec });
    res.ratios.push({ label: 'kafka sink msg/s', value: sink.perSec, kind: 'absolute', unit: 'msg/s' });
    res.notes.push(
      `sink driven through a real Dispatcher over an in-memory log (batch.maxEvents ${BATCH}, maxWaitMs 0), time includes the producer's connect; broker: librdkafka's mock cluster (in memory), ${PARTITIONS} partitions per topic (records keyed by event id; the sink partitions with kafkajs's murmur2, kcat with librdkafka's default); ${kcatVersion}; ${verified.join('; ')}.`,
    );
    res.commands.push(
      `kcat ${kcatArgs.map((a) => (a === '\t' ? "'\\t'" : a === file ? 'records.tsv' : a === mock!.bootstrap ? '127.0.0.1:PORT' : a)).join(' ')}`,
    );
    res.commands.push(
      `kcat -C -b 127.0.0.1:PORT -t TOPIC -o beginning -e -q -f '%k\\t%s\\n'   # read back, both topics, after kcat -Q for the high watermarks`,
    );
  } finally {
    await mock?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

export function kafkaEvents(quick: boolean): number {
  return quick ? 20_000 : 100_000;
}

/** The bench runner's entry: `npm run bench -- --only kafka`. */
export function kafka(ctx: Logger & { opts: { quick: boolean } }): Promise<ScenarioResult> {
  return measureKafka(kafkaEvents(ctx.opts.quick), ctx);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--events');
  const n = at > 0 ? Number(process.argv[at + 1]) : kafkaEvents(false);
  const result = await measureKafka(n, { log: (m) => console.log(m) });
  for (const row of result.rows) console.log(`${row.subject}: ${row.throughput} (${row.notes})`);
  for (const ratio of result.ratios) console.log(`${ratio.label}: ${fmt.ratio(ratio.value)}`);
  for (const note of result.notes) console.log(note);
}
