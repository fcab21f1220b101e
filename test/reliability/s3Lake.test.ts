import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { readLakeFiles } from '../support/lakeReadBack.js';
import { startLoad } from '../support/loadClient.js';
import { SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY, SwiftS3 } from '../support/swiftS3.js';
import { LONG, randomBetween, rssMiB, sleep, tempDataDir, waitForSink, withOutput } from './helpers.js';

/**
 * The s3 sink through crashes and outages, as a real Beacon process against a real S3 API
 * (one Swift s3api instance for this file). Objects are read back through the S3 API and
 * decoded (Parquet by DuckDB), and every event is counted by id.
 */
const ROUNDS = LONG ? 20 : 5;
const OUTAGE_MS = 30_000;

let swift: SwiftS3;

before(async () => {
  swift = await SwiftS3.start();
});

after(async () => {
  await swift?.stop();
});

function lakeSink(bucket: string, extra: Record<string, unknown> = {}) {
  return {
    name: 'lake',
    type: 's3',
    endpoint: swift.endpoint,
    bucket,
    forcePathStyle: true,
    accessKeyId: SWIFT_ACCESS_KEY,
    secretAccessKey: SWIFT_SECRET_KEY,
    format: 'parquet',
    roll: { maxAge: '100ms', maxEvents: 4000 },
    batch: { maxEvents: 500, maxWaitMs: 20 },
    ...extra,
  };
}

/** Every event in the bucket, downloaded through the S3 API and decoded. */
async function eventIdsIn(bucket: string): Promise<{ ids: string[]; objects: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-s3-read-'));
  try {
    const keys = await swift.keys(bucket);
    const files: string[] = [];
    for (const [i, key] of keys.entries()) {
      const file = join(dir, `${i}${key.endsWith('.parquet') ? '.parquet' : '.ndjson.gz'}`);
      await writeFile(file, await swift.get(bucket, key));
      files.push(file);
    }
    return { ids: (await readLakeFiles(files)).map((e) => e.id), objects: keys.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function countIds(ids: readonly string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return seen;
}

describe('s3 sink under kill -9', { timeout: (LONG ? 900 : 180) * 1000 }, () => {
  let beacon: BeaconProcess | undefined;
  let dataDir: string;
  const bucket = `crash-${process.pid}`;

  before(async () => {
    await swift.createBucket(bucket);
    dataDir = await tempDataDir();
    beacon = await startBeacon(
      {
        log: { type: 'local', segmentBytes: '1MiB', cursorSyncMs: 50 },
        dispatch: { maxFailoverDuration: '1s', initialBackoff: '50ms' },
        sinks: [lakeSink(bucket)],
      },
      { dataDir },
    );
  });

  after(async () => {
    await beacon?.kill9().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  it(`lands every acknowledged event exactly once in the bucket across ${ROUNDS} kill -9 rounds under load`, async () => {
    const b = beacon!;
    const acked = new Set<string>();
    const rounds: { sent: number; acked: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const load = startLoad({
        url: b.url,
        connections: 4,
        batchSize: 20,
        maxEvents: 20_000,
        maxDurationMs: 3000,
        idPrefix: `s3r${round}-`,
        requestTimeoutMs: 3000,
      });
      await sleep(randomBetween(400, 1200));
      await b.kill9();
      await sleep(50);
      load.stop();
      const result = await load.done;
      for (const id of result.acked) acked.add(id);
      rounds.push({ sent: result.sent, acked: result.acked.length });
      await b.restart();
    }
    assert.ok(acked.size > 0, withOutput(b, 'the load got no event acknowledged at all'));
    await waitForSink(b, 'lake', (s) => s.lagEvents === 0 && s.state === 'idle', 90_000, 'lag 0');
    const { ids, objects } = await eventIdsIn(bucket);
    const seen = countIds(ids);
    for (const [round, r] of rounds.entries()) {
      const prefix = `s3r${round}-`;
      let stored = 0;
      let duplicates = 0;
      for (const [id, n] of seen) {
        if (!id.startsWith(prefix)) continue;
        stored++;
        duplicates += n - 1;
      }
      console.log(
        `s3 kill -9 round ${round + 1}: sent=${r.sent} acked=${r.acked} stored=${stored} duplicates=${duplicates}`,
      );
    }
    const missing = [...acked].filter((id) => !seen.has(id));
    const duplicates = ids.length - seen.size;
    console.log(
      `s3 kill -9 total: rounds=${ROUNDS} acked=${acked.size} stored=${seen.size} objects=${objects} duplicates=${duplicates}`,
    );
    assert.deepEqual(
      missing.slice(0, 20),
      [],
      withOutput(b, `${missing.length} of ${acked.size} acknowledged events are missing from the bucket`),
    );
    assert.equal(duplicates, 0, `${duplicates} events are in the bucket more than once`);
    assert.deepEqual(await swift.openUploads(bucket), [], 'no multipart upload left open');
  });
});

describe('s3 sink through a 30 s outage of the server', { timeout: 180_000 }, () => {
  let beacon: BeaconProcess | undefined;
  const bucket = `outage-${process.pid}`;

  after(async () => {
    await swift.resume().catch(() => undefined);
    await beacon?.stop().catch(() => undefined);
    await beacon?.cleanup().catch(() => undefined);
  });

  it('keeps every event in the log while the server is down, with memory flat, and lands each once when it is back', async () => {
    await swift.createBucket(bucket);
    beacon = await startBeacon({
      dispatch: { maxFailoverDuration: '2s', initialBackoff: '100ms' },
      sinks: [lakeSink(bucket)],
    });
    const b = beacon;
    const warm = startLoad({
      url: b.url,
      connections: 2,
      batchSize: 50,
      maxEvents: 2000,
      maxDurationMs: 5000,
      idPrefix: 'warm-',
    });
    const warmed = await warm.done;
    await waitForSink(b, 'lake', (s) => s.lagEvents === 0, 30_000, 'the first events uploaded');
    await swift.pause();
    const downAt = Date.now();
    const rssBefore = rssMiB(b.child.pid);
    let rssDuring = rssBefore;
    const sampler = setInterval(() => (rssDuring = Math.max(rssDuring, rssMiB(b.child.pid))), 500);
    const during = startLoad({
      url: b.url,
      connections: 2,
      batchSize: 50,
      maxEvents: 40_000,
      maxDurationMs: OUTAGE_MS - 3000,
      idPrefix: 'down-',
    });
    const downResult = await during.done;
    await waitForSink(b, 'lake', (s) => s.state === 'backing_off', 10_000, 'the sink backing off');
    await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
    clearInterval(sampler);
    await swift.resume();
    await waitForSink(b, 'lake', (s) => s.lagEvents === 0 && s.state === 'idle', 60_000, 'lag 0 after the outage');
    const seen = countIds((await eventIdsIn(bucket)).ids);
    const acked = [...warmed.acked, ...downResult.acked];
    const missing = acked.filter((id) => !seen.has(id));
    const duplicates = [...seen.values()].reduce((n, c) => n + c - 1, 0);
    console.log(
      `s3 outage: acked=${acked.length} (during the outage ${downResult.acked.length}) stored=${seen.size} duplicates=${duplicates} rss before=${rssBefore.toFixed(0)}MiB max during=${rssDuring.toFixed(0)}MiB`,
    );
    assert.ok(downResult.acked.length > 1000, 'events were accepted while the server was down');
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} acknowledged events are missing`);
    assert.equal(duplicates, 0);
    // The events wait in the log, not in memory: growth stays far below their size in memory.
    assert.ok(rssDuring - rssBefore < 80, `memory grew ${(rssDuring - rssBefore).toFixed(0)} MiB during the outage`);
  });
});
