import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * Replay positions through a real Beacon (issue: a position past the end answered
 * `{"pending":0}` and every event appended afterwards was lost to that sink while status showed
 * lag 0): every position outside the log is a coded 400 naming the partition and its range and
 * moves nothing, so later events still arrive; a cursor file that cannot be used stops its sink
 * with a coded message instead of delivering the whole log again, until it is moved aside.
 */

interface SinkLine {
  name: string;
  state: string;
  lagEvents: number;
  lastError?: { message: string };
}

async function sinkLine(beacon: BeaconProcess, name = 'archive'): Promise<SinkLine> {
  const body = (await (await fetch(`${beacon.url}/api/v1/status`)).json()) as { sinks: SinkLine[] };
  return body.sinks.find((s) => s.name === name)!;
}

/** Waits until the archive sink's lag is 0; a timeout says the sink line last seen. */
async function caughtUp(beacon: BeaconProcess, what: string): Promise<void> {
  let last: SinkLine | undefined;
  await waitUntil(
    () => `${what} (archive last seen: ${JSON.stringify(last)})`,
    async () => (last = await sinkLine(beacon)).lagEvents === 0,
  );
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

async function send(beacon: BeaconProcess, ids: string[]): Promise<void> {
  const res = await fetch(`${beacon.url}/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ids.map((id) => ({ type: 'order', id }))),
  });
  assert.equal(res.status, 200);
}

async function replay(
  beacon: BeaconProcess,
  body: string,
): Promise<{ status: number; code?: string; message?: string; pending?: number }> {
  const res = await fetch(`${beacon.url}/api/v1/sinks/archive/replay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: res.status, ...((await res.json()) as object) };
}

describe('replay positions through a running Beacon', () => {
  let beacon: BeaconProcess;
  let archive: string;

  before(async () => {
    beacon = await startBeacon({
      sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson', batch: { maxEvents: 50, maxWaitMs: 20 } }],
    });
    archive = join(beacon.dataDir, 'out', 'events.ndjson');
  });
  after(async () => {
    await beacon?.stop();
    await beacon?.cleanup();
  });

  it('refuses every position outside the log with a coded 400 naming the partition and its range, and loses nothing after', async () => {
    await send(beacon, ['a1', 'a2', 'a3', 'a4', 'a5']);
    await waitUntil('5 events delivered', async () => (await lines(archive)).length === 5);
    const shapes: [string, string, RegExp][] = [
      [
        '{"from":"position","position":{"p0":1000000}}',
        'BEACON_E_REPLAY_POSITION',
        /position p0: 1000000 is outside the range of partition p0, 0\.\.5/,
      ],
      ['{"from":"position","position":{"p0":-1}}', 'BEACON_E_REPLAY_POSITION', /p0, 0\.\.5/],
      [
        '{"from":"position","position":{"../../x":1}}',
        'BEACON_E_REPLAY_POSITION',
        /partition "\.\.\/\.\.\/x", which this log does not have; it has p0 0\.\.5/,
      ],
      ['{"from":"position","position":[]}', 'BEACON_E_REPLAY_POSITION', /not an array/],
      ['{"from":"position","position":{"p0":2.5}}', 'BEACON_E_REPLAY_POSITION', /not a whole number/],
      ['{"from":"position","position":{"p0":9007199254740993}}', 'BEACON_E_REPLAY_POSITION', /lose digits/],
      ['null', 'BEACON_E_REPLAY', /must be a JSON object/],
    ];
    for (const [body, code, message] of shapes) {
      const res = await replay(beacon, body);
      assert.equal(res.status, 400, body);
      assert.equal(res.code, code, body);
      assert.match(res.message ?? '', message, body);
    }
    // Nothing moved: events sent now still reach the sink.
    await send(beacon, ['b1', 'b2', 'b3']);
    await waitUntil('the later events delivered', async () => (await lines(archive)).length === 8);
    assert.deepEqual(await lines(archive), ['a1', 'a2', 'a3', 'a4', 'a5', 'b1', 'b2', 'b3']);
  });

  it('lets `beacon replay --from-position` say the same, and moves to a position inside the range', async () => {
    const refused = await runCli(
      ['replay', '--sink', 'archive', '--from-position', '{"p0":1000000}', '--no-wait', '--url', beacon.url],
      { timeoutMs: 120_000 },
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /BEACON_E_REPLAY_POSITION.*p0, 0\.\.8/);
    const res = await replay(beacon, '{"from":"position","position":{"p0":"6"}}');
    assert.equal(res.status, 200);
    assert.equal(res.pending, 2);
    await waitUntil('the last two delivered again', async () => (await lines(archive)).length === 10);
    assert.deepEqual((await lines(archive)).slice(8), ['b2', 'b3']);
  });

  it('stops a sink whose cursor file cannot be read, says why, and resumes from the start once the file is moved aside', async () => {
    await caughtUp(beacon, 'caught up');
    await beacon.stop();
    const cursorFile = join(beacon.dataDir, 'log', 'cursors', 'archive.json');
    await writeFile(cursorFile, '{"version":1,"position":{"p0":');
    const before = (await lines(archive)).length;
    await beacon.restart();
    const stopped = await sinkLine(beacon);
    assert.equal(stopped.state, 'fatal');
    assert.match(
      stopped.lastError?.message ?? '',
      /BEACON_E_CURSOR_UNREADABLE: the cursor of sink "archive" in .*archive\.json cannot be used: it is not JSON/,
    );
    await beacon.waitForOutput(/BEACON_E_CURSOR_UNREADABLE/);
    await send(beacon, ['c1']);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await lines(archive)).length, before, 'nothing delivered again from the start, nothing guessed');

    await beacon.stop();
    await rename(cursorFile, `${cursorFile}.bad`);
    await beacon.restart();
    // The sink delivers from the start again; the file sink's own written-position record
    // (exactly once, sinks.md) skips what the file already holds, so only c1 is added.
    await waitUntil('the sink running again and c1 written', async () => (await lines(archive)).length === before + 1);
    assert.equal((await lines(archive)).at(-1), 'c1');
    // The file holds c1 before `deliver` returns and the loop moves the cursor past the batch,
    // so the lag reaches 0 a moment after the line appears.
    await caughtUp(beacon, 'the cursor past c1');
    assert.equal((await sinkLine(beacon)).state === 'fatal', false);
  });
});
