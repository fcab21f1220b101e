/**
 * s3: the s3 sink against two references uploading to the same S3 server, a one-node Swift
 * with its S3 API (test/support/swiftS3.ts, from ../shared/tools/s3-swift), started for the run.
 *
 * - Parquet encoding: the sink's encoder (DuckDB's COPY ... TO (FORMAT parquet), zstd) over a
 *   staged file of N events, best of 3, in µs per event; NDJSON + gzip beside it.
 * - Beacon: the real Dispatcher and S3Sink draining N events from an in-memory log that gives
 *   positions (bench/recordLog.ts), Parquet zstd, the documented layout
 *   `events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/`, `roll.maxEvents` N/4 (so four objects,
 *   five when the events cross an hour), timed from `dispatcher.start()` until the cursor
 *   committed everything, i.e. every object was acknowledged by the server.
 * - Reference 1 (what issue 15 asks): the objects the sink wrote, downloaded to files
 *   beforehand, uploaded again with PutObject (same client settings, one after another, as the
 *   sink uploads one segment after another) under another prefix. It encodes nothing, so it
 *   is a bound, not a job anyone could run instead of the sink.
 * - Reference 2 (fair): a hand-made "encode then upload" job. The same events staged as NDJSON
 *   files beforehand, one per object (not timed), then for each: DuckDB `COPY (SELECT ... FROM
 *   read_ndjson(...)) TO ... (FORMAT parquet, COMPRESSION zstd)` with the sink's columns, and
 *   PutObject; one object after another.
 * Each is timed in wall and in CPU seconds of this process (process.cpuUsage: DuckDB's threads
 * and the SDK included, Swift's processes not), given in µs per event.
 *
 * Verified: the sink's objects and reference 2's, read by DuckDB (`read_parquet`), each hold N
 * rows and N distinct ids, and a digest of every column equals one computed from the events
 * sent; the sink's keys are the ones the layout gives (computed here, not by the sink); the
 * reference 1 objects' ETags equal the sink's. Goal: the sink at ≥ 0.8x a reference's events/s.
 *
 * Runs inside `npm run bench -- --only s3`, or alone:
 *   node --import tsx bench/scenarios/s3.ts [--events N]
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { encodeJsonText, toJsonShape } from '../../src/event/codecs/json.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { s3ConfigSchema } from '../../src/sinks/s3/index.js';
import { createEncoder } from '../../src/sinks/s3/lakeEncoders.js';
import { objectName } from '../../src/sinks/s3/objectKey.js';
import { SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY, SwiftS3 } from '../../test/support/swiftS3.js';
import { fmt, newResult, type ScenarioResult } from '../report.js';
import { RecordLog } from '../recordLog.js';
import { benchEvents, waitUntil } from '../sinkDrain.js';

export const S3_TARGET_RATIO = 0.8;
const OBJECTS = 4;
/** The layout issue 15 documents: partitions by type, day and hour of the receive time (UTC). */
const PREFIX = 'events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/';
const PARQUET_TYPE = 'application/vnd.apache.parquet';

interface Logger {
  log(msg: string): void;
}

/** One object's events as staged NDJSON, the way a hand-made export job would hold them. */
interface StagedObject {
  key: string;
  stage: string;
  events: number;
}

/** Wall and CPU seconds of a timed part (CPU of this process: DuckDB's threads and the SDK included, Swift not). */
interface Timed {
  seconds: number;
  cpuSeconds: number;
}

async function timed(work: () => Promise<void>): Promise<Timed> {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  await work();
  const cpu = process.cpuUsage(cpuStarted);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** Best of 3 encodings of the staged events, in µs per event, and the encoded size. */
async function encodingCost(
  events: readonly TrackedEvent[],
  dir: string,
  format: 'parquet' | 'ndjson',
): Promise<{ usPerEvent: number; bytes: number }> {
  const stage = join(dir, `stage-${format}.ndjson`);
  writeFileSync(stage, events.map((e) => `${encodeJsonText(e)}\n`).join(''));
  const encoder = createEncoder(format, undefined);
  let best = Infinity;
  let bytes = 0;
  try {
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const out = await encoder.encode(stage);
      best = Math.min(best, performance.now() - started);
      bytes = statSync(out).size;
    }
  } finally {
    await encoder.close();
  }
  return { usPerEvent: (best * 1000) / events.length, bytes };
}

/**
 * The bench's events with their keys in the json codec's order, as sources build them and the
 * local log stores them: the sink then stages each record's text as it is, as in production
 * (benchEvents' key order would make it stringify every event again).
 */
function inLogOrder(events: readonly TrackedEvent[]): TrackedEvent[] {
  return events.map((e) => toJsonShape(e) as unknown as TrackedEvent);
}

/** PREFIX for one event, written out here rather than taken from the sink, so the keys check the sink's. */
function prefixOf(event: TrackedEvent): string {
  const d = new Date(event.ts);
  const two = (v: number) => String(v).padStart(2, '0');
  return `events/type=${event.type}/dt=${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}/hr=${two(d.getUTCHours())}/`;
}

/**
 * Stages the events as the sink cuts them (runs of `perObject` consecutive log positions, one
 * object per prefix within a run), one NDJSON file per object: the input of the hand-made job.
 */
function stageObjects(events: readonly TrackedEvent[], perObject: number, dir: string): StagedObject[] {
  const staged: StagedObject[] = [];
  for (let first = 0; first < events.length; first += perObject) {
    const groups = new Map<string, { first: number; last: number; lines: string[] }>();
    for (let seq = first; seq < Math.min(events.length, first + perObject); seq++) {
      const event = events[seq]!;
      const prefix = prefixOf(event);
      let group = groups.get(prefix);
      if (!group) groups.set(prefix, (group = { first: seq, last: seq, lines: [] }));
      group.last = seq;
      group.lines.push(`${encodeJsonText(event)}\n`);
    }
    for (const [prefix, group] of groups) {
      const stage = join(dir, `staged-${staged.length}.ndjson`);
      writeFileSync(stage, group.lines.join(''));
      staged.push({
        key: `${prefix}${objectName('0', group.first, group.last, '.parquet')}`,
        stage,
        events: group.lines.length,
      });
    }
  }
  return staged;
}

/**
 * The second reference: what a hand-made "encode then upload" job costs. DuckDB (its defaults,
 * one instance) COPYs each staged NDJSON file to Parquet zstd with the sink's columns, then
 * PutObject uploads it; one object after another. Returns the encoded files.
 */
async function encodeThenPut(staged: readonly StagedObject[], dir: string, swift: SwiftS3, bucket: string) {
  const files: string[] = [];
  const time = await timed(async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const c = await instance.connect();
    try {
      // epoch_ms gives a TIMESTAMP; its cast to TIMESTAMPTZ must not depend on the machine's zone.
      await c.run(`SET TimeZone = 'UTC'`);
      for (const [i, object] of staged.entries()) {
        const out = join(dir, `encoded-${i}.parquet`);
        await c.run(
          `COPY (SELECT id, type, epoch_ms(ts)::TIMESTAMPTZ AS ts, clientTs, partyId, sessionId, pageViewId, ip, ua, url, referrer, props, meta
             FROM read_ndjson('${object.stage}', columns = {id: 'VARCHAR', type: 'VARCHAR', ts: 'BIGINT', clientTs: 'BIGINT', partyId: 'VARCHAR', sessionId: 'VARCHAR', pageViewId: 'VARCHAR', ip: 'VARCHAR', ua: 'VARCHAR', url: 'VARCHAR', referrer: 'VARCHAR', props: 'JSON', meta: 'JSON'}))
           TO '${out}' (FORMAT parquet, COMPRESSION zstd)`,
        );
        await swift.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `encoded/${object.key}`,
            Body: readFileSync(out),
            ContentType: PARQUET_TYPE,
          }),
        );
        files.push(out);
      }
    } finally {
      c.closeSync();
      instance.closeSync();
    }
  });
  return { ...time, files };
}

/** Row count, distinct ids and a digest of every column of Parquet files, read by DuckDB. */
async function parquetDigest(paths: readonly string[]): Promise<{ rows: number; ids: number; digest: string }> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    const list = paths.map((p) => `'${p}'`).join(',');
    const row = (
      await c.runAndReadAll(
        `SELECT count(*)::INTEGER, count(DISTINCT id)::INTEGER, md5(string_agg(concat_ws('|', id, type, epoch_ms(ts), sessionId, ip, url, props::VARCHAR, meta::VARCHAR), '\n' ORDER BY id)) FROM read_parquet([${list}])`,
      )
    ).getRows()[0]!;
    return { rows: Number(row[0]), ids: Number(row[1]), digest: String(row[2]) };
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

function expectedDigest(events: readonly TrackedEvent[]): string {
  return createHash('md5')
    .update(
      [...events]
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((e) =>
          [e.id, e.type, e.ts, e.sessionId, e.ip, e.url, JSON.stringify(e.props), JSON.stringify(e.meta)].join('|'),
        )
        .join('\n'),
    )
    .digest('hex');
}

async function etagOf(swift: SwiftS3, bucket: string, key: string): Promise<string | undefined> {
  return (await swift.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag;
}

const usPerEvent = (t: Timed, n: number) => (t.cpuSeconds * 1e6) / n;

export async function measureS3(n: number, ctx: Logger): Promise<ScenarioResult> {
  const res = newResult('s3');
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-s3-'));
  const run = randomUUID().slice(0, 8);
  const bucket = `bench-${run}`;
  const perObject = Math.ceil(n / OBJECTS);
  let swift: SwiftS3 | undefined;
  try {
    const events = inLogOrder(benchEvents(n, run));
    const parquet = await encodingCost(events, dir, 'parquet');
    const ndjson = await encodingCost(events, dir, 'ndjson');
    ctx.log(
      `s3: Parquet (DuckDB, zstd) ${parquet.usPerEvent.toFixed(2)} µs/event, NDJSON gzip ${ndjson.usPerEvent.toFixed(2)} µs/event`,
    );

    swift = await SwiftS3.start();
    await swift.createBucket(bucket);
    ctx.log(`s3: Swift s3api on ${swift.endpoint}; s3 sink draining ${fmt.int(n)} events`);
    const log = new RecordLog();
    for (let i = 0; i < n; i += 10_000) await log.append(events.slice(i, i + 10_000));
    const config = s3ConfigSchema.parse({
      type: 's3',
      name: 'bench-s3',
      endpoint: swift.endpoint,
      bucket,
      forcePathStyle: true,
      accessKeyId: SWIFT_ACCESS_KEY,
      secretAccessKey: SWIFT_SECRET_KEY,
      prefix: PREFIX,
      format: 'parquet',
      roll: { maxEvents: perObject },
      batch: { maxWaitMs: 0 },
    });
    const dataDir = join(dir, 'data');
    const dispatcher = new Dispatcher({
      log,
      sinks: [{ config }],
      dispatch: { maxFailoverDuration: 1000, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
      dataDir,
      logger: silentLogger,
      metrics: createMetrics(new Registry()),
    });
    let errors = 0;
    const drainFrom = performance.now();
    const sink = await timed(async () => {
      try {
        await dispatcher.start();
        const done = await waitUntil(
          () => dispatcher.status()[0]!.lagEvents === 0 && dispatcher.status()[0]!.delivered >= n,
          600_000,
          5,
        );
        const s = dispatcher.status()[0]!;
        errors = s.errors;
        if (!done)
          throw new Error(
            `the s3 sink committed ${n - s.lagEvents} of ${n} events${s.lastError ? ` (last error: ${s.lastError.message})` : ''}`,
          );
      } finally {
        await dispatcher.stop(5000).catch(() => {});
      }
    });
    // performance.now() counts from the process start: the window to pass bench/profileTop.ts with --cpu-prof.
    ctx.log(
      `s3: the sink drained from ${(drainFrom / 1000).toFixed(2)} s to ${((drainFrom + sink.seconds * 1000) / 1000).toFixed(2)} s after the process started`,
    );

    // Reference 1: the sink's objects as files, uploaded again by the SDK.
    const keys = await swift.keys(bucket, 'events/');
    const files: { key: string; path: string }[] = [];
    for (const [i, key] of keys.entries()) {
      const path = join(dir, `object-${i}.parquet`);
      writeFileSync(path, await swift.get(bucket, key));
      files.push({ key, path });
    }
    const bodies = files.map((f) => readFileSync(f.path));
    const bytes = bodies.reduce((s, b) => s + b.length, 0);
    ctx.log(`reference 1: PutObject of the same ${files.length} objects (${fmt.int(bytes)} bytes)`);
    const prebuilt = await timed(async () => {
      for (const [i, f] of files.entries()) {
        await swift!.client.send(
          new PutObjectCommand({ Bucket: bucket, Key: `ref/${f.key}`, Body: bodies[i]!, ContentType: PARQUET_TYPE }),
        );
      }
    });

    // Reference 2: the same events, staged as NDJSON the same way, encoded by DuckDB then uploaded.
    const staged = stageObjects(events, perObject, dir);
    ctx.log(`reference 2: DuckDB COPY to Parquet zstd then PutObject, ${staged.length} objects`);
    const encoded = await encodeThenPut(staged, dir, swift, bucket);

    // Verify: DuckDB reads every event back from both, column for column; the keys and bytes agree.
    const expected = expectedDigest(events);
    for (const [what, paths] of [
      ["the sink's objects", files.map((f) => f.path)],
      ['the encode-then-upload objects', encoded.files],
    ] as const) {
      const got = await parquetDigest(paths);
      if (got.rows !== n || got.ids !== n)
        throw new Error(`${what} hold ${got.rows} rows and ${got.ids} distinct ids, expected ${n}`);
      if (got.digest !== expected)
        throw new Error(`${what} read back by DuckDB differ from the events sent (column digest)`);
    }
    const stagedKeys = staged.map((s) => s.key).sort();
    if (stagedKeys.join('\n') !== [...keys].sort().join('\n'))
      throw new Error(
        `the sink's keys (${keys.join(', ')}) are not the ones the layout gives (${stagedKeys.join(', ')})`,
      );
    let sameBytes = 0;
    for (const f of files) {
      const [sinkTag, refTag, encodedTag] = await Promise.all(
        [f.key, `ref/${f.key}`, `encoded/${f.key}`].map((key) => etagOf(swift!, bucket, key)),
      );
      if (sinkTag !== refTag) throw new Error(`reference object ${f.key} differs from the sink's`);
      if (encodedTag === sinkTag) sameBytes++;
    }
    const encodedBytes = encoded.files.reduce((s, f) => s + statSync(f).size, 0);

    const perSec = (t: Timed) => n / t.seconds;
    res.rows.push({
      scenario: 's3',
      subject: 's3 sink (Parquet zstd via DuckDB, roll by position)',
      throughput: `${fmt.int(perSec(sink))} events/s`,
      p50: '',
      p99: '',
      notes: `${fmt.int(n)} events into ${files.length} objects (${fmt.int(bytes)} B) in ${sink.seconds.toFixed(2)} s, ${sink.cpuSeconds.toFixed(2)} s CPU (${usPerEvent(sink, n).toFixed(1)} µs/event), reading the log, staging, encoding and uploading${errors ? `; ${errors} failed attempts retried` : ''}; verified`,
    });
    res.rows.push({
      scenario: 's3',
      subject: 'AWS SDK PutObject of the same bytes, pre-built',
      throughput: `${fmt.int(perSec(prebuilt))} events/s`,
      p50: '',
      p99: '',
      notes: `${files.length} objects in ${prebuilt.seconds.toFixed(2)} s, ${prebuilt.cpuSeconds.toFixed(2)} s CPU (${usPerEvent(prebuilt, n).toFixed(1)} µs/event); same ETags`,
    });
    res.rows.push({
      scenario: 's3',
      subject: 'DuckDB COPY of staged NDJSON to Parquet zstd, then AWS SDK PutObject',
      throughput: `${fmt.int(perSec(encoded))} events/s`,
      p50: '',
      p99: '',
      notes: `${staged.length} objects (${fmt.int(encodedBytes)} B) in ${encoded.seconds.toFixed(2)} s, ${encoded.cpuSeconds.toFixed(2)} s CPU (${usPerEvent(encoded, n).toFixed(1)} µs/event); ${sameBytes === files.length ? "the sink's ETags (same bytes)" : `${sameBytes} of ${files.length} with the sink's ETags`}; verified`,
    });
    res.ratios.push({
      label: 's3 sink/SDK PutObject of pre-built files events/s',
      value: perSec(sink) / perSec(prebuilt),
      target: S3_TARGET_RATIO,
    });
    res.ratios.push({
      label: 's3 sink/DuckDB COPY then SDK PutObject events/s',
      value: perSec(sink) / perSec(encoded),
      target: S3_TARGET_RATIO,
    });
    res.ratios.push({
      label: 'Parquet encoding (DuckDB, zstd) µs/event',
      value: parquet.usPerEvent,
      kind: 'absolute',
      unit: 'µs/event',
    });
    for (const [label, t] of [
      ['s3 sink', sink],
      ['DuckDB COPY then PutObject', encoded],
      ['PutObject of pre-built files', prebuilt],
    ] as const)
      res.ratios.push({ label: `${label}: CPU µs/event`, value: usPerEvent(t, n), kind: 'absolute', unit: 'µs/event' });
    res.notes.push(
      `Parquet encoding best of 3 over ${fmt.int(n)} staged events: ${parquet.usPerEvent.toFixed(2)} µs/event (${fmt.int(parquet.bytes)} B); NDJSON gzip ${ndjson.usPerEvent.toFixed(2)} µs/event (${fmt.int(ndjson.bytes)} B). Server: Swift 2.30 s3api, one node, every PUT fsynced; sink driven through a real Dispatcher over an in-memory log with positions (batch.maxEvents ${config.batch.maxEvents}, maxWaitMs 0), prefix ${PREFIX}. CPU is this process's (process.cpuUsage: DuckDB's threads and the SDK included, Swift not). The encode-then-upload reference starts from NDJSON files staged beforehand (not timed), one object after another. Verified: DuckDB read_parquet over the sink's objects and over the reference's gives ${fmt.int(n)} rows, ${fmt.int(n)} distinct ids and the column digest of the events sent; the sink's keys are the ones the layout gives; the pre-built reference objects have the sink's ETags.`,
    );
    res.commands.push(
      "s3.send(new PutObjectCommand({ Bucket, Key, Body: <the sink's object bytes> }))   # one after another, @aws-sdk/client-s3, WHEN_REQUIRED checksums",
      "COPY (SELECT id, type, epoch_ms(ts)::TIMESTAMPTZ AS ts, ... FROM read_ndjson('<staged>.ndjson', columns = {...})) TO '<out>.parquet' (FORMAT parquet, COMPRESSION zstd); then PutObject of <out>.parquet   # DuckDB defaults, one object after another",
    );
  } finally {
    await swift?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

export function s3Events(quick: boolean): number {
  return quick ? 40_000 : 200_000;
}

/** The bench runner's entry: `npm run bench -- --only s3`. */
export function s3(ctx: Logger & { opts: { quick: boolean } }): Promise<ScenarioResult> {
  return measureS3(s3Events(ctx.opts.quick), ctx);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--events');
  const n = at > 0 ? Number(process.argv[at + 1]) : s3Events(false);
  const result = await measureS3(n, { log: (m) => console.log(m) });
  for (const row of result.rows) console.log(`${row.subject}: ${row.throughput} (${row.notes})`);
  for (const ratio of result.ratios)
    console.log(`${ratio.label}: ${ratio.kind === 'absolute' ? ratio.value.toFixed(2) : fmt.ratio(ratio.value)}`);
  for (const note of result.notes) console.log(note);
}
