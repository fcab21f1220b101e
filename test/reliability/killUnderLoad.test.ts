import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { startLoad } from '../support/loadClient.js';
import { LONG, randomBetween, readNdjsonIds, sleep, tempDataDir, waitForSink, withOutput } from './helpers.js';

/**
 * (a) kill -9 under load. Each round starts a load of unique ids, kills the whole Beacon
 * process group with SIGKILL after a random 200–800 ms, and starts Beacon again on the same
 * data dir. At the end every id that was answered 2xx must be in the file sink's output
 * exactly once: a 2xx means durable, durable means delivered eventually, and the file sink
 * ties its output to log positions (`.events.ndjson.pos`), so a re-delivery after a crash never
 * writes a line twice.
 */
const ROUNDS = { 1: LONG ? 50 : 5, 2: LONG ? 30 : 4 } as const;
/**
 * log.cursorSyncMs: how often a cursor's position is persisted, so about how much a crash
 * re-delivers. 50 is Beacon's default; set BEACON_RELIABILITY_CURSOR_SYNC_MS to compare.
 */
const CURSOR_SYNC_MS = Number(process.env.BEACON_RELIABILITY_CURSOR_SYNC_MS ?? 50);

for (const workers of [1, 2] as const) {
  describe(`kill -9 under load with server.workers ${workers}`, { timeout: (LONG ? 900 : 120) * 1000 }, () => {
    let beacon: BeaconProcess | undefined;
    let dataDir: string;
    let outPath: string;

    before(async () => {
      dataDir = await tempDataDir();
      outPath = join(dataDir, 'out', 'events.ndjson');
      beacon = await startBeacon(
        {
          server: { workers },
          log: { type: 'local', segmentBytes: '1MiB', cursorSyncMs: CURSOR_SYNC_MS },
          dispatch: { maxFailoverDuration: '2s', initialBackoff: '50ms' },
          sinks: [
            { name: 'archive', type: 'file', path: outPath, codec: 'json', batch: { maxEvents: 500, maxWaitMs: 20 } },
          ],
        },
        { dataDir },
      );
    });

    after(async () => {
      await beacon?.kill9().catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    });

    it('delivers every acknowledged event to the file sink exactly once across repeated kill -9 and restart', async () => {
      const b = beacon!;
      const rounds = ROUNDS[workers];
      const acked = new Set<string>();
      let sent = 0;
      let failedRequests = 0;
      for (let round = 0; round < rounds; round++) {
        const load = startLoad({
          url: b.url,
          connections: 8,
          batchSize: 20,
          maxEvents: 50_000,
          maxDurationMs: 3000,
          idPrefix: `w${workers}r${round}`,
          requestTimeoutMs: 3000,
        });
        await sleep(randomBetween(200, 800));
        await b.kill9();
        // Keep the load running a moment against the dead port: clients see connection errors.
        await sleep(50);
        load.stop();
        const result = await load.done;
        for (const id of result.acked) acked.add(id);
        sent += result.sent;
        failedRequests += result.statuses.error ?? 0;
        await b.restart();
      }
      assert.ok(acked.size > 0, withOutput(b, 'the load got no event acknowledged at all'));

      await waitForSink(b, 'archive', (s) => s.lagEvents === 0 && s.state !== 'delivering', 60_000, 'lag 0');
      const { ids, badLines } = await readNdjsonIds(outPath);
      const seen = new Map<string, number>();
      for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
      const missing = [...acked].filter((id) => !seen.has(id));
      let duplicates = 0;
      for (const n of seen.values()) duplicates += n - 1;
      const rate = seen.size === 0 ? 0 : duplicates / seen.size;
      const unackedDelivered = [...seen.keys()].filter((id) => !acked.has(id)).length;
      console.log(
        `kill -9 under load (workers ${workers}): rounds=${rounds} sent=${sent} acked=${acked.size} ` +
          `lines=${ids.length} duplicates=${duplicates} rate=${(rate * 100).toFixed(3)}% per-kill=${Math.round(duplicates / rounds)} cursorSyncMs=${CURSOR_SYNC_MS} ` +
          `unacked-but-delivered=${unackedDelivered} failed-requests=${failedRequests} torn-lines=${badLines.length}`,
      );
      assert.deepEqual(
        missing.slice(0, 20),
        [],
        withOutput(b, `${missing.length} of ${acked.size} acknowledged events are missing from the file sink`),
      );
      assert.deepEqual(
        badLines.slice(0, 5),
        [],
        `the file sink's output has ${badLines.length} line(s) that are not JSON events`,
      );
      assert.equal(duplicates, 0, `the file sink wrote ${duplicates} line(s) twice across ${rounds} kill -9 rounds`);
    });
  });
}
