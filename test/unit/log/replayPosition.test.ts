import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { openLocalLog, type LocalLogOptions } from '../../../src/log/local/index.js';
import type { LogPosition } from '../../../src/log/eventLog.js';
import { drain, events, ids, tempDir } from './logTestKit.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function newDir(): Promise<string> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return dir;
}

function options(dir: string): LocalLogOptions {
  return {
    dir,
    maxBytes: 1 << 30,
    segmentBytes: 1 << 20,
    cursorSyncMs: 10_000,
    retryAfterSeconds: 7,
    retentionIntervalMs: 60_000,
  };
}

/** Resolves with the BeaconError code and message `run` rejects with. */
async function refusal(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run();
  } catch (err) {
    assert.ok(isBeaconError(err), `not a BeaconError: ${String(err)}`);
    return { code: err.code, message: err.message };
  }
  assert.fail('it was accepted');
}

describe('replay positions on the local log', () => {
  test('a position outside the log is refused with the partition and its range, and the cursor stays where it was', async () => {
    const log = await openLocalLog(options(await newDir()));
    await log.append(events(0, 10));
    const cursor = await log.cursor('archive');
    assert.deepEqual(await drain(cursor, true), ids(0, 10));
    const bad: [LogPosition, RegExp][] = [
      [{ p0: 1_000_000 }, /position p0: 1000000 is outside the range of partition p0, 0\.\.10/],
      [{ p0: -1 }, /position p0: -1 is outside the range of partition p0, 0\.\.10/],
      [{ p0: 11 }, /0\.\.10/],
      [{ '../../x': 1 }, /partition "\.\.\/\.\.\/x", which this log does not have; it has p0 0\.\.10/],
      [{ p1: 0 }, /partition "p1", which this log does not have/],
      [{}, /names no partition; this log has p0 0\.\.10/],
      [{ p0: 1.5 }, /1\.5 is outside/],
      [{ p0: 9007199254740992 }, /outside the range/],
    ];
    for (const [position, message] of bad) {
      const r = await refusal(() => cursor.seek({ kind: 'position', position }));
      assert.equal(r.code, 'BEACON_E_REPLAY_POSITION', JSON.stringify(position));
      assert.match(r.message, message);
      await refusal(() => cursor.check!({ kind: 'position', position }));
    }
    // Nothing moved: events appended now are read next, none skipped, none repeated.
    await log.append(events(10, 3));
    assert.deepEqual(await drain(cursor, true), ids(10, 3));
    assert.equal(cursor.lag().events, 0);
    await log.close();
  });

  test('a position within the range moves the cursor there, the end included', async () => {
    const log = await openLocalLog(options(await newDir()));
    await log.append(events(0, 10));
    const cursor = await log.cursor('archive');
    await cursor.seek({ kind: 'position', position: { p0: 7 } });
    assert.deepEqual(await drain(cursor), ids(7, 3));
    await cursor.seek({ kind: 'position', position: { p0: 10 } });
    assert.deepEqual(await drain(cursor), []);
    await cursor.seek({ kind: 'position', position: { p0: 0 } });
    assert.deepEqual(await drain(cursor), ids(0, 10));
    await log.close();
  });
});

describe('stored cursor positions', () => {
  async function logWithCursorFile(text: string) {
    const dir = await newDir();
    const first = await openLocalLog(options(dir));
    await first.append(events(0, 5));
    await first.close();
    await mkdir(join(dir, 'cursors'), { recursive: true });
    await writeFile(join(dir, 'cursors', 'archive.json'), text);
    return { dir, log: await openLocalLog(options(dir)) };
  }

  for (const [what, text, why] of [
    ['not JSON', '{"version":1,"posi', /is not JSON/],
    ['empty', '', /is not JSON/],
    ['without a position', '{"version":1}', /holds no \{"position": \{\.\.\.\}\} object/],
    [
      'with a value that is not a whole number',
      '{"version":1,"position":{"p0":"3"}}',
      /its position p0: "3" is not a whole number/,
    ],
    [
      'with a value that lost digits',
      '{"version":1,"position":{"p0":9007199254740993}}',
      /is not a whole number from 0 to 9007199254740991/,
    ],
    ['with a negative value', '{"version":1,"position":{"p0":-4}}', /is not a whole number/],
    [
      'past the end of the log',
      '{"version":1,"position":{"p0":999}}',
      /its position p0: 999 is past the end of partition p0 \(5\)/,
    ],
    [
      'naming a partition the log does not have',
      '{"version":1,"position":{"p7":1}}',
      /names partition "p7", which this log does not have/,
    ],
  ] as const) {
    test(`a cursor file ${what} stops that cursor with a message naming the file and how to reset it`, async () => {
      const { dir, log } = await logWithCursorFile(text);
      const r = await refusal(() => log.cursor('archive'));
      assert.equal(r.code, 'BEACON_E_CURSOR_UNREADABLE');
      assert.match(r.message, why);
      assert.ok(r.message.includes(join(dir, 'cursors', 'archive.json')), r.message);
      assert.match(r.message, /move the file aside to deliver the retained log from its start/);
      // Other cursors are not affected.
      assert.deepEqual(await drain(await log.cursor('other')), ids(0, 5));
      await log.close();
    });
  }

  test('a cursor file within range resumes there', async () => {
    const { log } = await logWithCursorFile('{"version":1,"position":{"p0":3}}');
    assert.deepEqual(await drain(await log.cursor('archive')), ids(3, 2));
    await log.close();
  });
});
