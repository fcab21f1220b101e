import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';

/** Duplicate detection as a user sees it: Beacon as a real process, a /batch with client ids sent twice, then again after a restart. */

type Line = { id: string; props: { n?: number; round?: number }; meta: Record<string, unknown> };

async function fileLines(path: string): Promise<Line[]> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
  } catch {
    return [];
  }
}

async function waitForLines(
  path: string,
  match: (e: Line) => boolean,
  count: number,
  timeoutMs = 20_000,
): Promise<Line[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await fileLines(path)).filter(match);
    if (found.length >= count) return found;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${count} events in the file sink`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sinks = [{ name: 'archive', type: 'file', path: 'out/events.ndjson', codec: 'json' }];

/** The same two events (same ids) each round; `round` in props makes each round's request differ, so only the id tier can flag it. */
async function send(url: string, round: number): Promise<void> {
  const body = JSON.stringify([
    { type: 'order', id: 'order-1001', props: { n: 1, round } },
    { type: 'order', id: 'order-1002', props: { n: 2, round } },
  ]);
  const res = await fetch(`${url}/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(res.status, 200, await res.text());
}

describe('duplicate detection in a running Beacon (defaults)', () => {
  let beacon: BeaconProcess;
  let out: string;

  before(async () => {
    beacon = await startBeacon({ sinks });
    out = join(beacon.dataDir, 'out', 'events.ndjson');
  });
  after(async () => {
    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    await beacon.cleanup();
  });

  it('flags a /batch whose client ids were already seen, also after a restart', async () => {
    await send(beacon.url, 1);
    const first = await waitForLines(out, (e) => e.props.round === 1, 2);
    assert.deepEqual(
      first.map((e) => e.meta.duplicate),
      [undefined, undefined],
    );

    await send(beacon.url, 2);
    const second = await waitForLines(out, (e) => e.props.round === 2, 2);
    assert.deepEqual(
      second.map((e) => [e.id, e.meta.duplicate]),
      [
        ['order-1001', true],
        ['order-1002', true],
      ],
    );

    const metrics = await (await fetch(`${beacon.url}/metrics`)).text();
    assert.match(metrics, /beacon_enrich_duplicates_total\{tier="id"\} 2/);

    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    const file = await readFile(join(beacon.dataDir, 'dedupe', 'ids-p0.log'), 'utf8');
    assert.deepEqual(
      file
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[1]),
      ['"order-1001"', '"order-1002"'],
      'the file holds times and ids only',
    );
    await beacon.restart();

    await send(beacon.url, 3);
    const third = await waitForLines(out, (e) => e.props.round === 3, 2);
    assert.deepEqual(
      third.map((e) => [e.id, e.meta.duplicate]),
      [
        ['order-1001', true],
        ['order-1002', true],
      ],
    );
  });
});
