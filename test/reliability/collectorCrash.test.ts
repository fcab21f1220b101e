import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitUntil } from '../support/waitFor.js';

/** The collector processes of a Beacon primary (its children running the collector entry point). */
function childrenOf(pid: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes('collectorWorkerMain'))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter((n) => n > 0);
}

const waitFor = (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) =>
  waitUntil(what, check, timeoutMs, 100);

describe('a collector process killed with SIGKILL', () => {
  let beacon: BeaconProcess;
  after(async () => {
    await beacon?.stop();
    await beacon?.cleanup();
  });

  it('keeps the instance answering, gets a new collector for its partition, and loses none of its acked events', async () => {
    beacon = await startBeacon({
      server: { workers: 2 },
      sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson' }],
    });
    const acked: string[] = [];
    const send = async (id: string) => {
      const res = await fetch(`${beacon.url}/batch`, {
        method: 'POST',
        body: JSON.stringify([{ type: 'crash', id }]),
        headers: { 'content-type': 'application/json' },
      });
      if (res.status === 200) acked.push(id);
      return res.status;
    };
    for (let i = 0; i < 200; i++) await send(`before-${i}`);

    const collectors = childrenOf(beacon.child.pid!);
    assert.equal(collectors.length, 2, 'two collector processes');
    process.kill(collectors[0]!, 'SIGKILL');

    // A request sent on a keep-alive connection to the killed process fails (the socket is
    // gone); a client retries it with the same event id. Sent one at a time, at most one can.
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      const status = await send(`after-${i}`).catch(() => 0);
      if (status === 200) continue;
      failed++;
      assert.equal(await send(`after-${i}`), 200, `the retry of after-${i} failed too`);
    }
    assert.ok(failed <= 1, `${failed} requests failed after the kill; only one can have been on the dead connection`);

    await waitFor(
      'a replacement collector',
      () => childrenOf(beacon.child.pid!).filter((p) => p !== collectors[0]).length === 2,
    );
    await waitFor('ready again', async () => (await fetch(`${beacon.url}/readyz`)).status === 200);

    const file = join(beacon.dataDir, 'out', 'events.ndjson');
    await waitFor('every acked event in the file', async () => {
      const ids = new Set(
        (await readFile(file, 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { id: string }).id),
      );
      return acked.every((id) => ids.has(id));
    });
    assert.equal(acked.length, 300);
  });
});
