import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openLocalLog } from '../../../src/log/local/index.js';
import { events, tempDir } from './logTestKit.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function segments(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'p0'))).filter((n) => n.endsWith('.seg')).sort();
}

describe('forgetting the cursor of a removed sink', () => {
  test('a closed cursor holds retention until forgotten; then segments the others passed are deleted, and its position is kept on disk', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const options = {
      dir,
      maxBytes: 1 << 30,
      segmentBytes: 4096,
      cursorSyncMs: 10_000,
      retryAfterSeconds: 7,
      retentionIntervalMs: 60_000,
    };
    let log = await openLocalLog(options);
    for (let i = 0; i < 200; i += 10) await log.append(events(i, 10));
    const all = await segments(dir);
    assert.ok(all.length > 3);

    const removed = await log.cursor('removed');
    const batch = await removed.read(20, 0);
    removed.commit(batch.position);
    await removed.close();
    const kept = await log.cursor('kept');
    kept.commit((await kept.read(200, 0)).position);
    await kept.flush();
    await log.reader.enforceRetention();
    assert.deepEqual(await segments(dir), all, 'the closed cursor, still counted, holds every segment');

    log.forgetCursor('removed');
    await log.reader.enforceRetention();
    const left = await segments(dir);
    assert.ok(left.length < all.length, 'the segments only the removed cursor needed are deleted');
    assert.equal(left.at(-1), all.at(-1), 'the active segment is kept');
    await log.close();

    // A sink of that name added again later resumes at the position it persisted (or the oldest retained record).
    log = await openLocalLog(options);
    const again = await log.cursor('removed');
    const first = (await again.read(1, 0)).events[0];
    assert.ok(first !== undefined && Number(first.id.slice(1)) >= 20, `resumes past its commit, at ${first?.id}`);
    await log.close();
  });

  test('leaves an open cursor alone', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const log = await openLocalLog({
      dir,
      maxBytes: 1 << 30,
      segmentBytes: 4096,
      cursorSyncMs: 10_000,
      retryAfterSeconds: 7,
      retentionIntervalMs: 60_000,
    });
    for (let i = 0; i < 200; i += 10) await log.append(events(i, 10));
    const all = await segments(dir);
    const open = await log.cursor('open');
    const other = await log.cursor('other');
    other.commit((await other.read(200, 0)).position);
    await other.flush();
    log.forgetCursor('open');
    await log.reader.enforceRetention();
    assert.deepEqual(await segments(dir), all, 'the open cursor at the start still holds retention');
    assert.equal((await open.read(1, 0)).events[0]?.id, 'e0');
    await log.close();
  });
});
