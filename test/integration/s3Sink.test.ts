import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { PlanJournal } from '../../src/sinks/s3/planJournal.js';
import { S3Target } from '../../src/sinks/s3/s3Target.js';
import { SinkError } from '../../src/sinks/sink.js';
import { SchemaSet } from '../../src/schemas/schemaSet.js';
import { parquetColumns, parquetRows, readLakeFiles } from '../support/lakeReadBack.js';
import { MemoryLog } from '../support/memoryLog.js';
import { SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY, SwiftS3 } from '../support/swiftS3.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { waitUntil } from '../support/waitFor.js';
import { parseSinkConfig } from '../../src/config/parseSinkConfig.js';

/** The s3 sink's failure handling against a real S3 API (Swift s3api), in process. */
let swift: SwiftS3;
const BUCKET = `sink-${process.pid}`;
const scratch = mkdtempSync(join(tmpdir(), 'beacon-s3-sink-'));

before(async () => {
  swift = await SwiftS3.start();
  await swift.createBucket(BUCKET);
});

after(async () => {
  await swift?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function events(n: number, prefix: string): TrackedEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    type: 'order.paid',
    ts: Date.now(),
    props: { n: i },
    meta: {},
  }));
}

function dispatcherWith(sink: Record<string, unknown>, log = new MemoryLog(), schemas?: SchemaSet) {
  const dataDir = mkdtempSync(join(scratch, 'data-'));
  const config = {
    name: 'lake',
    type: 's3',
    forcePathStyle: true,
    batch: { maxEvents: 50, maxWaitMs: 10 },
    ...sink,
  };
  const dispatcher = new Dispatcher({
    log,
    sinks: [{ config: parseSinkConfig(config) }],
    dispatch: { maxFailoverDuration: 300, initialBackoff: 20, logEvery: 0, shutdownTimeout: 5000 },
    dataDir,
    logger: silentLogger,
    metrics: createMetrics(new Registry()),
    schemas,
  });
  return { dispatcher, log, dataDir, status: () => dispatcher.status()[0]! };
}

/** The objects under `prefix`, downloaded to files (named after their keys' order). */
async function download(prefix: string, bucket = BUCKET): Promise<string[]> {
  const files: string[] = [];
  for (const [i, key] of (await swift.keys(bucket, prefix)).entries()) {
    const file = join(
      scratch,
      `${prefix.replace(/\W/g, '_')}${i}${key.endsWith('.parquet') ? '.parquet' : '.ndjson.gz'}`,
    );
    writeFileSync(file, await swift.get(bucket, key));
    files.push(file);
  }
  return files;
}

async function idsIn(prefix: string, bucket = BUCKET): Promise<string[]> {
  return (await readLakeFiles(await download(prefix, bucket))).map((e) => e.id);
}

describe('s3 sink failures', () => {
  for (const [what, sink, message] of [
    [
      'an unknown access key',
      () => ({ accessKeyId: 'nobody:none', secretAccessKey: 'x' }),
      /(InvalidAccessKeyId|SignatureDoesNotMatch).*accessKeyId/,
    ],
    [
      'a wrong secret key',
      () => ({ accessKeyId: SWIFT_ACCESS_KEY, secretAccessKey: 'not-the-secret' }),
      /SignatureDoesNotMatch.*fix the secret/,
    ],
    [
      'a missing bucket',
      () => ({ accessKeyId: SWIFT_ACCESS_KEY, secretAccessKey: SWIFT_SECRET_KEY, bucket: 'no-such-bucket-here' }),
      /does not exist \(NoSuchBucket\): create it/,
    ],
  ] as const) {
    it(`stops the sink with a message that says what to fix on ${what}`, async () => {
      const { dispatcher, log, status } = dispatcherWith({ endpoint: swift.endpoint, bucket: BUCKET, ...sink() });
      await dispatcher.start();
      await log.append(events(5, 'fatal-'));
      await waitUntil('the sink to go fatal', () => status().state === 'fatal', 15_000, 20);
      assert.match(status().lastError!.message, message);
      assert.doesNotMatch(status().lastError!.message, /not-the-secret|testing/, 'no secret in the message');
      assert.equal(status().lagEvents, 5, 'the events wait in the log');
      await dispatcher.stop(5000);
    });
  }

  it('retries a bucket that answered earlier and is gone, and lands every event once it is there again', async () => {
    const bucket = `gone-${process.pid}`;
    await swift.createBucket(bucket);
    const { dispatcher, log, status } = dispatcherWith({
      endpoint: swift.endpoint,
      bucket,
      accessKeyId: SWIFT_ACCESS_KEY,
      secretAccessKey: SWIFT_SECRET_KEY,
      prefix: 'gone/{type}/',
      format: 'ndjson',
      roll: { maxEvents: 10, maxAge: '100ms' },
    });
    await dispatcher.start();
    await log.append(events(10, 'before-'));
    await waitUntil(
      'the first events in the bucket',
      async () => (await idsIn('gone/', bucket)).length === 10,
      15_000,
      50,
    );
    await swift.deleteBucket(bucket);
    await log.append(events(10, 'while-'));
    await waitUntil(
      'NoSuchBucket seen',
      () => status().lastError?.message.includes('NoSuchBucket') === true,
      15_000,
      20,
    );
    assert.notEqual(status().state, 'fatal', 'a bucket that answered before is retried, not fatal');
    assert.match(status().lastError!.message, /answered earlier in this run.*create it again/);
    await swift.createBucket(bucket);
    await waitUntil('the events written while it was gone', () => status().lagEvents === 0, 20_000, 50);
    assert.deepEqual(
      (await idsIn('gone/', bucket)).sort(),
      events(10, 'while-')
        .map((e) => e.id)
        .sort(),
    );
    await dispatcher.stop(5000);
  });

  it('lands every event once while connections are cut mid-upload', async () => {
    const proxy = new TcpProxy(swift.port);
    const port = await proxy.start();
    const { dispatcher, log, status } = dispatcherWith({
      endpoint: `http://127.0.0.1:${port}`,
      bucket: BUCKET,
      accessKeyId: SWIFT_ACCESS_KEY,
      secretAccessKey: SWIFT_SECRET_KEY,
      prefix: 'cut/{type}/',
      format: 'ndjson',
      roll: { maxEvents: 100, maxAge: '100ms' },
    });
    await dispatcher.start();
    const sent = events(3000, 'cut-');
    for (let i = 0; i < sent.length; i += 300) await log.append(sent.slice(i, i + 300));
    // Cut every connection every 15 ms until an upload failed for it, then let the sink catch up.
    const cutter = setInterval(() => proxy.cut(), 15);
    try {
      await waitUntil('a cut seen', () => status().errors > 0, 30_000, 5);
    } finally {
      clearInterval(cutter);
    }
    await waitUntil('every event delivered', () => status().lagEvents === 0, 60_000, 20);
    await dispatcher.stop(5000);
    await proxy.stop();
    const ids = await idsIn('cut/');
    assert.equal(ids.length, sent.length, 'no event twice');
    assert.deepEqual(new Set(ids), new Set(sent.map((e) => e.id)), 'every event');
  });

  it('aborts a multipart upload a lost connection left open, at the next open, so no parts accumulate', async () => {
    const proxy = new TcpProxy(swift.port);
    const port = await proxy.start();
    const journalPath = join(scratch, 'mpu', 'plans.jsonl');
    const journal = await PlanJournal.open(journalPath);
    // The server goes away right after the upload id is recorded: parts and the abort fail.
    const recording = journal.uploadStarted.bind(journal);
    journal.uploadStarted = async (upload) => {
      await recording(upload);
      proxy.down();
    };
    const options = {
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      bucket: BUCKET,
      forcePathStyle: true,
      credentials: { accessKeyId: SWIFT_ACCESS_KEY, secretAccessKey: SWIFT_SECRET_KEY },
      multipartThreshold: 5 * 1024 * 1024,
      partBytes: 5 * 1024 * 1024,
    };
    const file = join(scratch, 'big.bin');
    const bytes = randomBytes(12 * 1024 * 1024);
    writeFileSync(file, bytes);
    const first = new S3Target({ ...options, journal });
    await first.open();
    const failed = await first.put('mpu/big.bin', file, 'application/octet-stream').then(
      () => undefined,
      (err: unknown) => err,
    );
    first.close();
    assert.ok(failed instanceof SinkError && failed.kind === 'retry', `a cut upload is retried (${String(failed)})`);
    assert.equal((await PlanJournal.open(journalPath)).openUploads().length, 1, 'the unfinished upload is remembered');
    assert.equal((await swift.openUploads(BUCKET)).length, 1, 'the server holds its parts');
    proxy.restore();
    const second = new S3Target({ ...options, journal: await PlanJournal.open(journalPath) });
    await second.open();
    assert.deepEqual(await swift.openUploads(BUCKET), [], 'aborted at open');
    await second.put('mpu/big.bin', file, 'application/octet-stream');
    second.close();
    await proxy.stop();
    assert.ok((await swift.get(BUCKET, 'mpu/big.bin')).equals(bytes), "the object has the file's bytes");
    assert.deepEqual(await swift.openUploads(BUCKET), []);
  });
});

describe('s3 sink typed columns', () => {
  it("writes typed Parquet columns from the event type's JSON Schema, read back by DuckDB from the bucket's objects", async () => {
    const schemaFile = join(scratch, 'order.paid.json');
    writeFileSync(
      schemaFile,
      JSON.stringify({
        type: 'object',
        properties: {
          plan: { type: 'string' },
          amount: { type: 'number' },
          quantity: { type: 'integer' },
          gift: { type: 'boolean' },
          paidAt: { type: 'string', format: 'date-time' },
          items: { type: 'array' },
        },
      }),
    );
    const schemas = SchemaSet.load({ types: { 'order.paid': schemaFile }, mode: 'bad', requireSchema: false });
    const { dispatcher, log, status } = dispatcherWith(
      {
        endpoint: swift.endpoint,
        bucket: BUCKET,
        accessKeyId: SWIFT_ACCESS_KEY,
        secretAccessKey: SWIFT_SECRET_KEY,
        prefix: 'typed/type={type}/',
        roll: { maxEvents: 1000, maxAge: '100ms' },
      },
      new MemoryLog(),
      schemas,
    );
    await dispatcher.start();
    const ts = Date.UTC(2026, 11, 6, 22);
    await log.append([
      {
        id: 't0',
        type: 'order.paid',
        ts,
        props: { plan: 'pro', amount: 19.5, quantity: 2, gift: false, paidAt: '2026-12-06T22:15:00Z', items: ['a'] },
        meta: {},
      },
      { id: 't1', type: 'order.paid', ts, props: { plan: 'free', amount: 'n/a', quantity: 2.5 }, meta: {} },
      { id: 't2', type: 'page.view', ts, props: { plan: 'pro', path: '/' }, meta: {} },
    ]);
    await waitUntil('every event delivered', () => status().lagEvents === 0, 30_000, 20);
    await dispatcher.stop(5000);
    const [order, view] = (await download('typed/type=')).sort((a, b) =>
      a.includes('page') ? 1 : b.includes('page') ? -1 : 0,
    );
    assert.deepEqual((await parquetColumns(order!)).slice(13), [
      ['props_amount', 'DOUBLE'],
      ['props_gift', 'BOOLEAN'],
      ['props_paidAt', 'TIMESTAMP WITH TIME ZONE'],
      ['props_plan', 'VARCHAR'],
      ['props_quantity', 'BIGINT'],
    ]);
    const rows = await parquetRows(
      order!,
      'id, props_plan, props_amount, props_quantity, props_gift, epoch_ms(props_paidAt) AS paidAt, props::VARCHAR AS props',
    );
    assert.deepEqual(
      rows.map((r) => [r.id, r.props_plan, r.props_amount, r.props_quantity, r.props_gift, r.paidAt]),
      [
        ['t0', 'pro', 19.5, 2n, false, BigInt(Date.UTC(2026, 11, 6, 22, 15))],
        ['t1', 'free', null, null, null, null],
      ],
    );
    assert.deepEqual(
      JSON.parse(String(rows[1]!.props)),
      { plan: 'free', amount: 'n/a', quantity: 2.5 },
      'kept in props',
    );
    assert.equal((await parquetColumns(view!)).length, 13, 'a type without a schema has the base columns only');
  });
});
