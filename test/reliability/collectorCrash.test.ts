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
    // Like a real client: each request has a timeout. Node's cluster primary accepts every
    // connection and hands it to a collector; one it accepts in the instant a collector dies,
    // before it has seen the death, goes to the dead process and hangs until that timeout
    // (docs/operations.md, "Several collector processes").
    const send = async (id: string) => {
      const res = await fetch(`${beacon.url}/batch`, {
        method: 'POST',
        body: JSON.stringify([{ type: 'crash', id }]),
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status === 200) acked.push(id);
      return res.status;
    };
    for (let i = 0; i < 200; i++) await send(`before-${i}`);

    const collectors = childrenOf(beacon.child.pid!);
    assert.equal(collectors.length, 2, 'two collector processes');
    process.kill(collectors[0]!, 'SIGKILL');

    // A request sent on the keep-alive connection to the killed process fails (the socket is
    // gone), and the new connection its retry opens may be the one the primary hands to the
    // dead process before it saw it die; the client retries with the same event id. Sent one
    // at a time, so at most those two attempts can fail, and every event is acked in the end.
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      let status = await send(`after-${i}`).catch(() => 0);
      for (let attempt = 1; status !== 200 && attempt <= 3; attempt++) {
        failed++;
        status = await send(`after-${i}`).catch(() => 0);
      }
      assert.equal(status, 200, `after-${i} was refused on every retry`);
    }
    assert.ok(failed <= 2, `${failed} attempts failed after the kill; only two can have met the dead process`);

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
