import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { LocalLogReader, PartitionWriter, openLocalLog, type LocalLogOptions } from '../../../src/log/local/index.js';
import { HEADER_BYTES } from '../../../src/log/local/recordFormat.js';
import { parseSegmentName } from '../../../src/log/local/recordFormat.js';
import { countingFs, drain, event, events, ids, tempDir } from './logTestKit.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function newDir(): Promise<string> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return dir;
}

function options(dir: string, extra: Partial<LocalLogOptions> = {}): LocalLogOptions {
  return {
    dir,
    maxBytes: 1 << 30,
    segmentBytes: 1 << 20,
    cursorSyncMs: 10_000,
    retryAfterSeconds: 7,
    retentionIntervalMs: 60_000,
    ...extra,
  };
}

async function segments(dir: string, partition = 'p0'): Promise<string[]> {
  return (await readdir(join(dir, partition))).filter((n) => n.endsWith('.seg')).sort();
}

describe('local log on the real file system', () => {
  test('a cursor reads back every appended event in order', async () => {
    const dir = await newDir();
    const log = await openLocalLog(options(dir));
    await log.append(events(0, 10));
    await log.append(events(10, 5));
    const cursor = await log.cursor('archive');
    assert.deepEqual(await drain(cursor), ids(0, 15));
    const first = (await (await log.cursor('other')).read(1, 0)).events[0];
    assert.deepEqual(first, event(0));
    await log.close();
  });

  test('a cursor resumes after close and reopen at its last flushed commit', async () => {
    const dir = await newDir();
    let log = await openLocalLog(options(dir));
    await log.append(events(0, 10));
    let cursor = await log.cursor('archive');
    const batch = await cursor.read(4, 0);
    cursor.commit(batch.position);
    await log.close();

    log = await openLocalLog(options(dir));
    cursor = await log.cursor('archive');
    assert.deepEqual(cursor.lag().events, 6);
    assert.deepEqual(await drain(cursor), ids(4, 6));
    await log.close();
  });

  test('cuts a torn tail at open and keeps appending after the last whole record', async () => {
    const dir = await newDir();
    let log = await openLocalLog(options(dir));
    await log.append(events(0, 3));
    await log.close();
    const [segment] = await segments(dir);
    const path = join(dir, 'p0', segment!);
    const size = (await stat(path)).size;
    await truncate(path, size - 5); // the last record loses its end, as in a crash mid-write

    let corrupt = 0;
    log = await openLocalLog(options(dir, { onCorrupt: () => corrupt++ }));
    assert.ok((await stat(path)).size < size - 5, 'the partial record is cut off');
    await log.append([event(100)]);
    assert.deepEqual(await drain(await log.cursor('archive')), ['e0', 'e1', 'e100']);
    assert.equal(corrupt, 0, 'a torn tail is not corruption');
    await log.close();
  });

  test('skips and counts a record with a bad CRC and keeps the records around it', async () => {
    const dir = await newDir();
    let log = await openLocalLog(options(dir));
    await log.append(events(0, 5));
    await log.close();
    const path = join(dir, 'p0', (await segments(dir))[0]!);
    const bytes = await readFile(path);
    const recordBytes = bytes.length / 5;
    bytes[2 * recordBytes + HEADER_BYTES + 3]! ^= 0xff; // flip a payload byte of the third record
    await writeFile(path, bytes);

    let corrupt = 0;
    log = await openLocalLog(options(dir, { onCorrupt: () => corrupt++ }));
    assert.deepEqual(await drain(await log.cursor('archive')), ['e0', 'e1', 'e3', 'e4']);
    assert.deepEqual(await drain(await log.cursor('second')), ['e0', 'e1', 'e3', 'e4']);
    assert.equal(corrupt, 1, 'counted once, however many readers meet it');
    await log.append([event(5)]);
    assert.deepEqual(await drain(await log.cursor('third')), ['e0', 'e1', 'e3', 'e4', 'e5']);
    await log.close();
  });

  test('a corrupt length in a sealed segment loses neither the rest of it nor the later segments', async () => {
    const dir = await newDir();
    let log = await openLocalLog(options(dir, { segmentBytes: 2000 }));
    for (let i = 0; i < 60; i += 3) await log.append(events(i, 3));
    await log.close();
    const segs = await segments(dir);
    assert.ok(segs.length >= 3, `rolled into ${segs.length} segments`);
    const path = join(dir, 'p0', segs[0]!);
    const bytes = await readFile(path);
    const recordBytes = bytes.readUInt32LE(0) + HEADER_BYTES;
    bytes.writeUInt32LE(0x00ffffff, recordBytes); // second record claims a huge length
    await writeFile(path, bytes);

    let corrupt = 0;
    log = await openLocalLog(options(dir, { onCorrupt: () => corrupt++ }));
    const read = await drain(await log.cursor('archive'));
    assert.deepEqual(
      read,
      ids(0, 60).filter((id) => id !== 'e1'),
    );
    assert.equal(corrupt, 1);
    await log.close();
  });

  test('rolls segments at segmentBytes, names them by first sequence number and deletes them once a cursor persisted past them', async () => {
    const dir = await newDir();
    const log = await openLocalLog(options(dir, { segmentBytes: 4096 }));
    for (let i = 0; i < 200; i += 10) await log.append(events(i, 10));
    const before = await segments(dir);
    assert.ok(before.length > 3);
    assert.equal(before[0], '00000000000000000000.seg');
    const bases = before.map((n) => Number(n.slice(0, 20)));
    assert.deepEqual(
      [...bases].sort((a, b) => a - b),
      bases,
    );
    for (const name of before) assert.ok((await stat(join(dir, 'p0', name))).size <= 4096);

    const cursor = await log.cursor('archive');
    const ephemeral = await log.cursor('tail', { ephemeral: true });
    assert.equal((await ephemeral.read(10, 0)).events.length, 0, 'an ephemeral cursor starts at the end');
    const batch = await cursor.read(150, 0);
    cursor.commit(batch.position);
    await log.reader.enforceRetention();
    assert.deepEqual(await segments(dir), before, 'a commit that is not persisted holds no deletion');
    await cursor.flush();
    await log.reader.enforceRetention();
    const afterIds = await segments(dir);
    assert.ok(afterIds.length < before.length, 'segments behind the persisted commit are deleted');
    assert.ok(Number(afterIds[0]!.slice(0, 20)) <= 150, 'the segment holding the next record is kept');
    assert.equal(afterIds.at(-1), before.at(-1), 'the active segment is kept');
    assert.deepEqual(await drain(cursor), ids(150, 50));
    await log.close();
  });

  test('refuses appends with BEACON_E_LOG_FULL when maxBytes would be passed, and accepts again once segments are deleted', async () => {
    const dir = await newDir();
    const log = await openLocalLog(options(dir, { segmentBytes: 2048, maxBytes: 8192 }));
    const cursor = await log.cursor('archive');
    let n = 0;
    let full: unknown;
    while (!full) {
      try {
        await log.append(events(n, 5));
        n += 5;
      } catch (err) {
        full = err;
      }
    }
    assert.ok(isBeaconError(full) && full.code === 'BEACON_E_LOG_FULL', String(full));
    assert.equal(full.status, 503);
    assert.deepEqual(full.details, { retryAfterSeconds: 7 });
    assert.ok(log.usage().bytes <= 8192);
    assert.deepEqual(await drain(cursor), ids(0, n), 'nothing of the refused append was written');

    const all = await cursor.read(1, 0);
    cursor.commit(all.position);
    await cursor.flush();
    await log.reader.enforceRetention();
    await new Promise((r) => setTimeout(r, 120));
    await log.append(events(n, 5));
    assert.deepEqual(await drain(cursor), ids(n, 5));
    await log.close();
  });

  test('concurrent appends share fdatasyncs (group commit)', async () => {
    const dir = await newDir();
    const { fs, syncs } = countingFs();
    const log = await openLocalLog(options(dir, { fs }));
    const before = syncs();
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(events(i * 2, 2))));
    const used = syncs() - before;
    assert.ok(used < 20, `200 appends used ${used} fdatasyncs`);
    assert.equal((await drain(await log.cursor('archive'))).length, 400);
    await log.close();
  });

  test('a read waits for new durable records and wakes as soon as they are appended', async () => {
    const dir = await newDir();
    const log = await openLocalLog(options(dir));
    const cursor = await log.cursor('archive');
    const started = Date.now();
    const pending = cursor.read(5, 5000);
    setTimeout(() => void log.append(events(0, 5)), 30);
    const batch = await pending;
    assert.equal(batch.events.length, 5);
    assert.ok(Date.now() - started < 2000, 'woke on the append, not at the timeout');

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const empty = await cursor.read(5, 5000, controller.signal);
    assert.equal(empty.events.length, 0, 'an aborted wait resolves with what is there');
    await log.close();
  });

  test('seeks to start, end, a time and a position', async () => {
    const dir = await newDir();
    const log = await openLocalLog(options(dir, { segmentBytes: 1024 }));
    await log.append(events(0, 30));
    const cursor = await log.cursor('archive');
    await cursor.seek({ kind: 'time', ts: event(17).ts });
    assert.deepEqual(await drain(cursor), ids(17, 13));
    await cursor.seek({ kind: 'start' });
    assert.deepEqual(await drain(cursor), ids(0, 30));
    await cursor.seek({ kind: 'end' });
    assert.deepEqual(await drain(cursor), []);
    assert.equal(cursor.lag().events, 0);
    await cursor.seek({ kind: 'position', position: { p0: 25 } });
    assert.deepEqual(await drain(cursor), ids(25, 5));
    await log.close();
  });

  test('lag counts durable uncommitted events and knows the oldest one read', async () => {
    const dir = await newDir();
    const log = await openLocalLog(options(dir));
    await log.append(events(0, 10));
    const cursor = await log.cursor('archive');
    assert.deepEqual(cursor.lag(), { events: 10, oldestTs: undefined });
    const batch = await cursor.read(4, 0);
    assert.deepEqual(cursor.lag(), { events: 10, oldestTs: event(0).ts });
    cursor.commit(batch.position);
    assert.equal(cursor.lag().events, 6);
    await cursor.read(6, 0);
    assert.deepEqual(cursor.lag(), { events: 6, oldestTs: event(4).ts });
    await log.close();
  });

  test('writer and reader objects apart, as in two processes: the reader sees only what the watermark allows', async () => {
    const dir = await newDir();
    const common = { segmentBytes: 1 << 20, maxBytes: 1 << 26, retryAfterSeconds: 5 };
    const w0 = await PartitionWriter.open({ dir: join(dir, 'p0'), ...common });
    const w1 = await PartitionWriter.open({ dir: join(dir, 'p1'), ...common });
    const reader = await LocalLogReader.open({
      dir,
      maxBytes: 1 << 27,
      cursorSyncMs: 10_000,
      retentionIntervalMs: 60_000,
    });
    await w0.append(events(0, 4));
    await w1.append(events(100, 4));
    const cursor = await reader.cursor('archive');
    assert.deepEqual((await cursor.read(100, 0)).events, [], 'nothing readable before a watermark arrives');

    reader.setDurable('p0', w0.durableSeq);
    assert.deepEqual(await drain(cursor), ids(0, 4));
    const watermarks: number[] = [];
    w1.onDurable((seq) => watermarks.push(seq));
    await w1.append(events(104, 2));
    assert.deepEqual(watermarks, [6]);
    reader.setDurable('p1', 2); // a message carrying an older watermark: read only that far
    assert.deepEqual(await drain(cursor), ids(100, 2));
    reader.setDurable('p1', w1.durableSeq);
    const batch = await cursor.read(100, 0);
    assert.deepEqual(
      batch.events.map((e) => e.id),
      ids(102, 4),
    );
    assert.deepEqual(batch.position, { p0: 4, p1: 6 });
    cursor.commit(batch.position);
    await reader.close();
    await w0.close();
    await w1.close();

    // A later single-process run reads the old p1 to its end.
    const log = await openLocalLog(options(dir));
    await log.append(events(4, 1));
    const resumed = await log.cursor('archive');
    assert.deepEqual(await drain(resumed), ['e4']);
    const fresh = await log.cursor('fresh');
    assert.deepEqual((await drain(fresh)).sort(), [...ids(0, 5), ...ids(100, 6)].sort());
    await log.close();
  });

  test('reads partitions fairly: one batch takes from each partition that has records', async () => {
    const dir = await newDir();
    const common = { segmentBytes: 1 << 20, maxBytes: 1 << 26, retryAfterSeconds: 5 };
    const w0 = await PartitionWriter.open({ dir: join(dir, 'p0'), ...common });
    const w1 = await PartitionWriter.open({ dir: join(dir, 'p1'), ...common });
    await w0.append(events(0, 100));
    await w1.append(events(1000, 100));
    const reader = await LocalLogReader.open({ dir, maxBytes: 1 << 27, cursorSyncMs: 10_000 });
    const cursor = await reader.cursor('archive');
    const batch = await cursor.read(20, 0);
    const fromP1 = batch.events.filter((e) => Number(e.id.slice(1)) >= 1000).length;
    assert.equal(fromP1, 10);
    await reader.close();
    await w0.close();
    await w1.close();
  });

  test('a reopened writer hands out the ids of the last 10,000 records it found, oldest first, once; a torn tail is not among them', async () => {
    const dir = await newDir();
    const common = { segmentBytes: 1 << 26, maxBytes: 1 << 27, retryAfterSeconds: 5 };
    const w = await PartitionWriter.open({ dir: join(dir, 'p0'), ...common });
    assert.deepEqual(w.takeRecoveredIds(), [], 'a new partition holds nothing');
    await w.append(events(0, 10_050));
    await w.close();
    const { appendFile, readdir } = await import('node:fs/promises');
    const [segment] = await readdir(join(dir, 'p0'));
    await appendFile(join(dir, 'p0', segment!), Buffer.from([40, 0, 0, 0, 1, 2, 3])); // a frame cut by a crash
    const reopened = await PartitionWriter.open({ dir: join(dir, 'p0'), ...common });
    const tail = reopened.takeRecoveredIds();
    assert.equal(tail.length, 10_000);
    assert.equal(tail[0], event(50).id);
    assert.equal(tail.at(-1), event(10_049).id);
    assert.deepEqual(reopened.takeRecoveredIds(), []);
    await reopened.close();
  });

  test('after a recent roll the recovered ids reach back into the segment before', async () => {
    const dir = await newDir();
    // Small segments: 300 events fill several, the last holds only a few records.
    const common = { segmentBytes: 16 * 1024, maxBytes: 1 << 27, retryAfterSeconds: 5 };
    const w = await PartitionWriter.open({ dir: join(dir, 'p0'), ...common });
    for (let i = 0; i < 300; i += 10) await w.append(events(i, 10));
    await w.close();
    const { readdir } = await import('node:fs/promises');
    const bases = (await readdir(join(dir, 'p0'))).map((name) => parseSegmentName(name)!).sort((a, b) => a - b);
    assert.ok(bases.length >= 3, 'several segments');
    const reopened = await PartitionWriter.open({ dir: join(dir, 'p0'), ...common });
    // Every id of the last two segments (fewer than 10,000 in all), in log order.
    assert.deepEqual(reopened.takeRecoveredIds(), ids(bases.at(-2)!, 300 - bases.at(-2)!));
    await reopened.close();
  });

  test('append after close rejects with BEACON_E_LOG_CLOSED', async () => {
    const dir = await newDir();
    const log = await openLocalLog(options(dir));
    await log.close();
    await assert.rejects(
      log.append([event(0)]),
      (err: unknown) => isBeaconError(err) && err.code === 'BEACON_E_LOG_CLOSED',
    );
  });
});
