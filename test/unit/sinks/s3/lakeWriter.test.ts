import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { TrackedEvent } from '../../../../src/event/trackedEvent.js';
import type { EventOrigin } from '../../../../src/log/eventLog.js';
import { createEncoder, type LakeFormat } from '../../../../src/sinks/s3/lakeEncoders.js';
import { LakeWriter, type RollLimits } from '../../../../src/sinks/s3/lakeWriter.js';
import { PlanJournal } from '../../../../src/sinks/s3/planJournal.js';
import { readLakeFiles } from '../../../support/lakeReadBack.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 6, 22, 30);

function makeEvents(n: number): TrackedEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `e${String(i).padStart(4, '0')}`,
    type: i % 3 === 0 ? 'page.view' : 'click',
    // Crosses an hour boundary half way, so events land under two `hr=` prefixes.
    ts: T0 + Math.floor((i * HOUR) / n),
    ...(i % 2 === 0 ? { partyId: `p${i % 7}`, ip: '203.0.113.9' } : { sessionId: `s${i}`, clientTs: T0 - i }),
    props: { n: i, price: i / 4, tags: ['a', `t${i}`], text: `é "quoted" ${i}` },
    meta: { source: 'test', bot: i % 5 === 0 },
  }));
}

/** A target that keeps each put's bytes by key (the last put of a key wins, as in a bucket). */
function memoryTarget(dir: string) {
  const objects = new Map<string, Buffer>();
  const puts: string[] = [];
  let failNext = 0;
  return {
    objects,
    puts,
    failTimes(n: number) {
      failNext = n;
    },
    async put(key: string, path: string) {
      if (failNext > 0) {
        failNext--;
        throw new Error('ECONNRESET: connection cut');
      }
      objects.set(key, readFileSync(path));
      puts.push(key);
      copyFileSync(path, join(dir, key.replace(/\//g, '_')));
    },
  };
}

let clockNow = T0;
const clock = { now: () => clockNow, sleep: async () => {} };

async function writer(
  stateDir: string,
  target: ReturnType<typeof memoryTarget>,
  roll: RollLimits,
  format: LakeFormat = 'parquet',
  uploadAhead?: number,
) {
  const journal = await PlanJournal.open(join(stateDir, 'plans.jsonl'));
  const w = new LakeWriter({
    prefix: 'events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/',
    roll,
    stageDir: join(stateDir, 'stage'),
    journal,
    encoder: createEncoder(format, undefined),
    target,
    clock,
    ...(uploadAhead === undefined ? {} : { uploadAhead }),
  });
  await w.reset();
  return w;
}

/** Feeds events [from, to) in batches of `size`, one clock tick per batch; `ageAt` closes by age after that batch. */
async function feed(
  w: LakeWriter,
  events: TrackedEvent[],
  from: number,
  to: number,
  size: number,
  ageAt: Set<number> = new Set(),
) {
  let position = {};
  for (let i = from; i < to; i += size) {
    const batch = events.slice(i, Math.min(to, i + size));
    const origins: EventOrigin[] = batch.map((_, k) => ({ partition: 'p0', seq: i + k }));
    clockNow += 10;
    position = await w.take(batch, origins, { p0: i + batch.length });
    if ([...ageAt].some((a) => a >= i && a < i + size)) {
      clockNow += 60_000;
      position = await w.flush(false);
    }
  }
  return position;
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('lake writer: objects tied to log positions', () => {
  it('gives the same keys and the same bytes when a crash re-delivers the events in other batches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-lake-'));
    try {
      const events = makeEvents(300);
      const roll = { maxBytes: 1 << 30, maxEvents: 1_000_000, maxAge: 30_000 };
      // First run: batches of 7, objects closed by age (wall-clock luck) after events 100 and 220.
      const first = memoryTarget(join(dir, 'out1'));
      require0(join(dir, 'out1'));
      const w1 = await writer(join(dir, 'state'), first, roll);
      const committed = await feed(w1, events, 0, 300, 7, new Set([100, 220]));
      assert.ok((committed as Record<string, number>).p0! < 300, 'the open segment holds the cursor back');
      // Crash: the cursor was persisted at 0. Second run: batches of 13, no age closes at all.
      const second = memoryTarget(join(dir, 'out2'));
      require0(join(dir, 'out2'));
      const w2 = await writer(join(dir, 'state'), second, roll);
      await feed(w2, events, 0, 300, 13);
      await w2.flush(true);
      for (const [key, bytes] of first.objects) {
        assert.ok(second.objects.has(key), `the re-delivery wrote ${key} again`);
        assert.equal(sha(second.objects.get(key)!), sha(bytes), `${key} has the same bytes`);
      }
      const ids = (await readLakeFiles([...second.objects.keys()].map((k) => join(dir, 'out2', k.replace(/\//g, '_')))))
        .map((e) => e.id)
        .sort();
      assert.deepEqual(
        ids,
        events.map((e) => e.id),
        'every event once across the objects',
      );
      assert.ok(
        [...second.objects.keys()].some((k) => k.includes('hr=22/')) &&
          [...second.objects.keys()].some((k) => k.includes('hr=23/')),
        'Hive-style prefixes from the event time (UTC)',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closes by maxEvents and maxBytes at the same positions every time, and never commits past an object not uploaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-lake-'));
    try {
      const events = makeEvents(120);
      const roll = { maxBytes: 6000, maxEvents: 25, maxAge: 3_600_000 };
      const target = memoryTarget(join(dir, 'out'));
      require0(join(dir, 'out'));
      const w = await writer(join(dir, 'state'), target, roll, 'ndjson');
      target.failTimes(1);
      const batch = events.slice(0, 40);
      const origins = batch.map((_, k) => ({ partition: 'p0', seq: k }));
      await assert.rejects(w.take(batch, origins, { p0: 40 }), /connection cut/);
      // The retry of the same batch takes nothing twice and uploads what closed.
      const position = await w.take(batch, origins, { p0: 40 });
      const firstOpen = Math.max(...[...target.objects.keys()].map((k) => Number(/-(\d+)\.ndjson/.exec(k)![1]))) + 1;
      assert.equal(position.p0, firstOpen, 'the cursor may commit up to the first event not yet in an uploaded object');
      const got = await readLakeFiles([...target.objects.keys()].map((k) => join(dir, 'out', k.replace(/\//g, '_'))));
      assert.equal(new Set(got.map((e) => e.id)).size, got.length, 'no event twice');
      assert.deepEqual(
        got.map((e) => e.id).sort(),
        events.slice(0, firstOpen).map((e) => e.id),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uploads behind take with uploadAhead: a failed upload is thrown by the next call, the cursor waits for it, and the objects are the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-lake-'));
    try {
      const events = makeEvents(200);
      const roll = { maxBytes: 1 << 30, maxEvents: 30, maxAge: 3_600_000 };
      const inTake = memoryTarget(join(dir, 'out1'));
      require0(join(dir, 'out1'));
      const w1 = await writer(join(dir, 'state1'), inTake, roll);
      await feed(w1, events, 0, 200, 20);
      await w1.flush(true);

      const behind = memoryTarget(join(dir, 'out2'));
      require0(join(dir, 'out2'));
      const w2 = await writer(join(dir, 'state2'), behind, roll, 'parquet', 2);
      /** Every position before the first not in an uploaded object. */
      const uploadedUpTo = () => {
        const covered = new Set<number>();
        for (const key of behind.objects.keys()) {
          const [, first, last] = /-(\d+)-(\d+)\.parquet$/.exec(key)!;
          for (let s = Number(first); s <= Number(last); s++) covered.add(s);
        }
        let n = 0;
        while (covered.has(n)) n++;
        return n;
      };
      behind.failTimes(1);
      let failures = 0;
      for (let i = 0; i < 200;) {
        const batch = events.slice(i, i + 20);
        const origins: EventOrigin[] = batch.map((_, k) => ({ partition: 'p0', seq: i + k }));
        try {
          const position = await w2.take(batch, origins, { p0: i + batch.length });
          assert.ok(
            position.p0! <= uploadedUpTo(),
            `commits ${position.p0} with objects up to ${uploadedUpTo()} uploaded`,
          );
          i += 20;
        } catch (err) {
          assert.match((err as Error).message, /connection cut/);
          failures++;
        }
      }
      const last = await w2.flush(true);
      assert.equal(failures, 1, 'the failed upload was reported once, by a later call');
      assert.equal(last.p0, 200);
      assert.deepEqual([...behind.objects.keys()].sort(), [...inTake.objects.keys()].sort(), 'the same keys');
      for (const [key, bytes] of inTake.objects)
        assert.equal(sha(behind.objects.get(key)!), sha(bytes), `${key} has the same bytes`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes Parquet that DuckDB reads back as exactly the events sent, column for column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-lake-'));
    try {
      const events = makeEvents(500);
      const target = memoryTarget(join(dir, 'out'));
      require0(join(dir, 'out'));
      const w = await writer(join(dir, 'state'), target, { maxBytes: 1 << 30, maxEvents: 1_000_000, maxAge: 60_000 });
      await feed(w, events, 0, 500, 64);
      await w.flush(true);
      const files = [...target.objects.keys()].map((k) => join(dir, 'out', k.replace(/\//g, '_')));
      const instance = await DuckDBInstance.create(':memory:');
      const c = await instance.connect();
      const list = files.map((f) => `'${f}'`).join(',');
      const columns = await c.runAndReadAll(
        `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet([${list}]))`,
      );
      assert.deepEqual(
        columns.getRows().map((r) => `${r[0]} ${r[1]}`),
        [
          'id VARCHAR',
          'type VARCHAR',
          'ts TIMESTAMP WITH TIME ZONE',
          'clientTs BIGINT',
          'partyId VARCHAR',
          'sessionId VARCHAR',
          'pageViewId VARCHAR',
          'ip VARCHAR',
          'ua VARCHAR',
          'url VARCHAR',
          'referrer VARCHAR',
          'props JSON',
          'meta JSON',
        ],
      );
      // A digest over every column, computed by DuckDB from the Parquet and in JS from the events sent.
      const digest = await c.runAndReadAll(
        `SELECT md5(string_agg(concat_ws('|', id, type, epoch_ms(ts), coalesce(clientTs::VARCHAR, ''), coalesce(partyId, ''), coalesce(sessionId, ''), coalesce(ip, ''), json_extract(props, '$.n'), json_extract_string(props, '$.text'), json_extract(meta, '$.bot')), '\n' ORDER BY id)) FROM read_parquet([${list}])`,
      );
      const expected = events
        .slice()
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((e) =>
          [
            e.id,
            e.type,
            e.ts,
            e.clientTs ?? '',
            e.partyId ?? '',
            e.sessionId ?? '',
            e.ip ?? '',
            e.props.n,
            e.props.text,
            e.meta.bot,
          ].join('|'),
        )
        .join('\n');
      assert.equal(digest.getRows()[0]![0], createHash('md5').update(expected).digest('hex'));
      c.closeSync();
      instance.closeSync();
      const back = await readLakeFiles(files);
      for (const e of back)
        assert.deepEqual(
          e,
          events.find((s) => s.id === e.id),
        );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A fresh, empty directory for one target's copies. */
function require0(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}
