import { after } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { readLakeFiles } from '../support/lakeReadBack.js';
import { SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY, SwiftS3 } from '../support/swiftS3.js';
import { runSinkConformance } from './sink.js';

/**
 * The s3 sink against a real S3 API (Swift's s3api, one instance for this file), writing
 * Parquet. `stop()` stops the server's processes, `start()` brings the same instance back.
 */
const BUCKET = `conformance-${process.pid}`;
let swift: SwiftS3 | undefined;
let paused = false;
/** Events read back per object key and ETag. */
const readObjects = new Map<string, TrackedEvent[]>();
const scratch = mkdtempSync(join(tmpdir(), 'beacon-s3-conformance-'));

after(async () => {
  await swift?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

runSinkConformance('s3', {
  ordered: true,
  config: () => ({
    type: 's3',
    endpoint: swift!.endpoint,
    bucket: BUCKET,
    forcePathStyle: true,
    accessKeyId: SWIFT_ACCESS_KEY,
    secretAccessKey: SWIFT_SECRET_KEY,
    // No time in the prefix: keys then sort in log order, which `ordered` reads back.
    prefix: 'conformance/type={type}/',
    format: 'parquet',
    roll: { maxAge: '50ms' },
  }),
  start: async () => {
    if (!swift) {
      swift = await SwiftS3.start();
      await swift.createBucket(BUCKET);
    } else if (paused) {
      await swift.resume();
    }
    paused = false;
  },
  stop: async () => {
    await swift!.pause();
    paused = true;
  },
  reset: async () => {
    readObjects.clear();
    if (swift && !paused) await swift.emptyBucket(BUCKET);
  },
  readBack: async () => {
    if (!swift || paused) return [];
    // The checks poll every 10 ms: read each object once (per ETag) so the polling does not
    // load the server the sink is writing to.
    const objects = await swift.objects(BUCKET);
    const events: TrackedEvent[] = [];
    for (const { key, etag } of objects) {
      const cacheKey = `${key} ${etag}`;
      let read = readObjects.get(cacheKey);
      if (!read) {
        const path = join(scratch, `${readObjects.size}-${key.replace(/[^A-Za-z0-9.-]/g, '_')}`);
        writeFileSync(path, await swift.get(BUCKET, key));
        read = await readLakeFiles([path]);
        readObjects.set(cacheKey, read);
      }
      events.push(...read);
    }
    return events;
  },
});
