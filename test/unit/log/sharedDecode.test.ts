import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openLocalLog, type LocalLogOptions } from '../../../src/log/local/index.js';
import { MemoryLogFs } from '../../../src/log/local/memoryFs.js';
import { drain, events, ids, tempDir } from './logTestKit.js';

/**
 * Cursors of one log share the events they decode (recentRecords.ts): sinks that follow each
 * other parse each record once. Sharing must never change what any cursor returns.
 */
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

function options(dir: string, extra: Partial<LocalLogOptions> = {}): LocalLogOptions {
  return {
    dir,
    maxBytes: 1 << 30,
    segmentBytes: 64 * 1024,
    cursorSyncMs: 10_000,
    retryAfterSeconds: 1,
    retentionIntervalMs: 60_000,
    ...extra,
  };
}

describe('cursors sharing decoded records', () => {
  test('two cursors reading in step each get every event in order, the second without parsing again', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const log = await openLocalLog(options(dir));
    await log.append(events(0, 3000)); // several segments of 64 KiB
    const a = await log.cursor('a');
    const b = await log.cursor('b');
    const seenA: string[] = [];
    const seenB: string[] = [];
    let shared = 0;
    for (;;) {
      const batchA = await a.read(500, 0);
      const batchB = await b.read(500, 0);
      assert.equal(batchA.events.length, batchB.events.length);
      if (batchA.events.length === 0) break;
      batchA.events.forEach((e, i) => (shared += e === batchB.events[i] ? 1 : 0));
      seenA.push(...batchA.events.map((e) => e.id));
      seenB.push(...batchB.events.map((e) => e.id));
    }
    assert.deepEqual(seenA, ids(0, 3000));
    assert.deepEqual(seenB, ids(0, 3000));
    assert.equal(shared, 3000, "the second cursor took the first one's events");
    await log.close();
  });

  test('a cursor far behind, or one that seeks back, still reads every event once, in order', async () => {
    const fs = new MemoryLogFs();
    const log = await openLocalLog(options('/log', { fs }));
    await log.append(events(0, 2500));
    const ahead = await log.cursor('ahead');
    assert.deepEqual(await drain(ahead), ids(0, 2500));
    const behind = await log.cursor('behind');
    assert.deepEqual(await drain(behind), ids(0, 2500));
    await log.append(events(2500, 10));
    await behind.seek({ kind: 'start' });
    assert.deepEqual(await drain(behind), ids(0, 2510));
    assert.deepEqual(await drain(ahead), ids(2500, 10));
    await log.close();
  });
});
