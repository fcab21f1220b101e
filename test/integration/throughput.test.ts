import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { WAIT_TIMEOUT_MS, waitForValue } from '../support/waitFor.js';

/** `GET /api/v1/throughput` on Beacon as a real process: one process, and a primary with two collectors. */

interface Throughput {
  intervalMs: number;
  end: number;
  received: (number | null)[];
  rejected: (number | null)[];
  delivered: (number | null)[];
  deliveredBySink: Record<string, (number | null)[]>;
}

const sum = (series: (number | null)[]) => series.reduce<number>((a, v) => a + (v ?? 0), 0);

for (const workers of [1, 2]) {
  describe(`the throughput history with ${workers} collector process${workers > 1 ? 'es' : ''}`, () => {
    let beacon: BeaconProcess;
    after(async () => {
      await beacon?.stop();
      await beacon?.cleanup();
    });

    it('counts received, rejected and delivered per second, matching what was sent', async () => {
      beacon = await startBeacon({
        server: { workers },
        // Caching off, so each poll sees the newest second.
        api: { cache: { realtime: 0 } },
        sinks: [
          { name: 'a', type: 'file', path: 'out/a.ndjson' },
          { name: 'b', type: 'file', path: 'out/b.ndjson' },
        ],
      });
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${beacon.url}/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(10_000),
          body: JSON.stringify([
            ...Array.from({ length: 50 }, (_, n) => ({ type: 'tick', props: { i, n } })),
            { type: 'bad type!' },
          ]),
        });
        assert.equal(res.status, 200);
      }
      const history = await waitForValue(
        'the history to hold 306 received, 6 rejected and 300 delivered by every sink',
        async () => {
          const t = (await (await fetch(`${beacon.url}/api/v1/throughput`)).json()) as Throughput;
          const sinks = Object.keys(t.deliveredBySink).length;
          return sum(t.received) === 306 && sum(t.rejected) === 6 && sum(t.delivered) === 300 * sinks ? t : undefined;
        },
        WAIT_TIMEOUT_MS,
        200,
      );
      assert.equal(history.intervalMs, 1000);
      assert.equal(history.received.length, 900);
      // Every sink the dispatcher runs: the configured ones and the embedded store's `_store`.
      assert.deepEqual(Object.keys(history.deliveredBySink).sort(), ['_store', 'a', 'b']);
      assert.equal(sum(history.deliveredBySink.a!), 300);
      assert.ok(Math.abs(history.end - Date.now()) < 5000, 'the newest point is about now');
      const res = await fetch(`${beacon.url}/api/v1/throughput?seconds=0`);
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { code: string }).code, 'BEACON_E_BAD_QUERY');
    });
  });
}
