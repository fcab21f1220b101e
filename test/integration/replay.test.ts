import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBeacon, runCli, type BeaconProcess } from '../support/beaconProcess.js';
import { startHttpReceiver, type HttpReceiver } from '../support/httpReceiver.js';
import { waitUntil } from '../support/waitFor.js';

interface Status {
  sinks: { name: string; lagEvents: number; delivered: number; deadLettered: number }[];
}

async function status(beacon: BeaconProcess): Promise<Status> {
  return (await (await fetch(`${beacon.url}/api/v1/status`)).json()) as Status;
}

const until = (what: string, check: () => Promise<boolean>, timeoutMs = 15_000) => waitUntil(what, check, timeoutMs);

async function lines(path: string): Promise<{ id: string }[]> {
  return (await readFile(path, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string });
}

async function sendBatch(beacon: BeaconProcess, events: unknown[]): Promise<void> {
  const res = await fetch(`${beacon.url}/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  assert.equal(res.status, 200);
}

describe('replay and restarts', () => {
  let beacon: BeaconProcess;
  let receiver: HttpReceiver;
  let archive: string;

  before(async () => {
    receiver = await startHttpReceiver();
    beacon = await startBeacon({
      dispatch: { maxFailoverDuration: '1s', initialBackoff: '50ms' },
      sinks: [
        { name: 'archive', type: 'file', path: 'out/events.ndjson' },
        { name: 'hook', type: 'http', url: receiver.url, batch: { maxEvents: 50, maxWaitMs: 20 } },
      ],
    });
    archive = join(beacon.dataDir, 'out', 'events.ndjson');
  });
  after(async () => {
    await beacon.stop();
    await receiver.stop();
    await beacon.cleanup();
  });

  it('re-delivers dead letters with `beacon replay` once the destination accepts them', async () => {
    receiver.rejectWhen((e) => (e.props as { bad?: boolean } | undefined)?.bad === true);
    await sendBatch(
      beacon,
      Array.from({ length: 40 }, (_, i) => ({ type: 'order', id: `r-${i}`, props: { bad: i % 10 === 0 } })),
    );
    await until(
      '4 dead letters',
      async () => (await status(beacon)).sinks.find((s) => s.name === 'hook')!.deadLettered === 4,
    );
    const dlq = (await readFile(join(beacon.dataDir, 'dlq', 'hook.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; event: { id: string } });
    assert.deepEqual(dlq.map((e) => e.event.id).sort(), ['r-0', 'r-10', 'r-20', 'r-30']);
    assert.ok(
      dlq.every((e) => /400/.test(e.reason)),
      'each dead letter says why',
    );

    receiver.rejectWhen(undefined);
    const res = await runCli(['replay', '--sink', 'hook', '--url', beacon.url]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /hook: 4 dead letters replayed: 4 delivered, 0 rejected again/);
    for (const id of ['r-0', 'r-10', 'r-20', 'r-30']) assert.ok(receiver.ids().has(id), `${id} was not re-delivered`);
    assert.equal((await readFile(join(beacon.dataDir, 'dlq', 'hook.ndjson'), 'utf8').catch(() => '')).trim(), '');
  });

  it('rewinds a sink to the start of the log with `beacon replay --from-start`, showing progress', async () => {
    await until(
      'archive caught up',
      async () => (await status(beacon)).sinks.find((s) => s.name === 'archive')!.lagEvents === 0,
    );
    const before = (await lines(archive)).length;
    assert.ok(before >= 40);
    const res = await runCli(['replay', '--sink', 'archive', '--from-start', '--url', beacon.url]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`archive: cursor moved \\(start\\); ${before} events to re-deliver`));
    assert.match(res.stderr, new RegExp(`archive: ${before}/${before} delivered \\(100%\\)`));
    assert.equal((await lines(archive)).length, before * 2);
  });

  it('names the configured sinks when replay is asked for an unknown one', async () => {
    const res = await runCli(['replay', '--sink', 'nope', '--url', beacon.url]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /BEACON_E_SINK_UNKNOWN.*no sink named "nope"; configured sinks: archive, hook/);
  });

  it('re-delivers nothing after a clean stop and start: cursors are saved on shutdown', async () => {
    await sendBatch(
      beacon,
      Array.from({ length: 30 }, (_, i) => ({ type: 'late', id: `late-${i}` })),
    );
    await until('archive caught up', async () => (await status(beacon)).sinks.every((s) => s.lagEvents === 0));
    const countBefore = (await lines(archive)).length;
    const receivedBefore = receiver.events.length;
    assert.equal(await beacon.stop(), 0);
    await beacon.restart();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await lines(archive)).length, countBefore, 'the file sink got events again after a clean restart');
    assert.equal(receiver.events.length, receivedBefore, 'the http sink got events again after a clean restart');
  });
});
