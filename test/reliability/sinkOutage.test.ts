import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile, rm } from 'node:fs/promises';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { startHttpReceiver, type HttpReceiver } from '../support/httpReceiver.js';
import { runLoad, startLoad } from '../support/loadClient.js';
import {
  LONG,
  oneSink,
  readNdjsonIds,
  sinkStatus,
  rssMiB,
  sleep,
  tempDataDir,
  waitForSink,
  withOutput,
  type SinkStatusLine,
} from './helpers.js';

/**
 * How long the http sink's receiver stays down: 30 s, 120 s in long mode, or
 * BEACON_OUTAGE_SECONDS for a one-off longer run (docs/performance.md records a 10-minute one).
 */
const OUTAGE_MS = Number(process.env.BEACON_OUTAGE_SECONDS) * 1000 || (LONG ? 120_000 : 30_000);
/** Events per second sent during the outage; each carries ~600 bytes of props, so ~50 MB of payload would pile up if the dispatcher buffered them in memory. */
const RATE = 3000;
/** Largest growth of the Beacon process's RSS over its warmed-up baseline. */
const RSS_GROWTH_LIMIT_MIB = 60;
const PAD = 'x'.repeat(600);

const baseConfig = (dataDir: string, receiverUrl: string) => ({
  server: { workers: 1 },
  // This test is about a sink's backlog staying in the log, not in memory; the embedded store
  // (DuckDB: a buffer pool up to store.memoryLimit and its own allocations) would add its own
  // growth to the RSS being measured, so it is off here.
  store: { type: 'none' },
  dispatch: { maxFailoverDuration: '2s', initialBackoff: '50ms' },
  sinks: [
    {
      name: 'hook',
      type: 'http',
      url: receiverUrl,
      format: 'json',
      batch: { maxEvents: 500, maxWaitMs: 50 },
      timeoutMs: 2000,
    },
    {
      name: 'archive',
      type: 'file',
      path: join(dataDir, 'out', 'events.ndjson'),
      codec: 'json',
      batch: { maxEvents: 500, maxWaitMs: 20 },
    },
  ],
});

describe('an http sink whose receiver is down for a while', { timeout: OUTAGE_MS + 300_000 }, () => {
  let beacon: BeaconProcess | undefined;
  let receiver: HttpReceiver | undefined;
  let dataDir: string;

  before(async () => {
    dataDir = await tempDataDir();
    receiver = await startHttpReceiver();
    beacon = await startBeacon(baseConfig(dataDir, receiver.url), { dataDir });
  });

  after(async () => {
    await beacon?.kill9().catch(() => undefined);
    await receiver?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps events in the log, not in memory, shows backing_off, keeps the file sink delivering, and delivers everything once the receiver is back', async () => {
    const b = beacon!;
    const r = receiver!;
    const pid = b.child.pid;
    const props = (n: number) => ({ n, pad: PAD });

    // Warm up at the same rate with everything healthy, so the baseline RSS is a steady state.
    const warm = await runLoad({
      url: b.url,
      connections: 4,
      batchSize: 50,
      maxEvents: RATE * 4,
      maxDurationMs: 6000,
      eventsPerSecond: RATE,
      idPrefix: 'warm',
      props,
    });
    assert.ok(
      warm.acked.length > 0,
      withOutput(b, `the warm-up load got nothing acknowledged: ${JSON.stringify(warm.statuses)} ${warm.lastError}`),
    );
    await r.waitForIds(warm.acked.length, 30_000);
    await waitForSink(b, 'archive', (s) => s.lagEvents === 0, 30_000, 'lag 0 after warm-up');
    await sleep(1000);
    const baseline = rssMiB(pid);

    // The outage: the receiver refuses connections while events keep coming.
    await r.stop();
    const outageStart = Date.now();
    const load = startLoad({
      url: b.url,
      connections: 4,
      batchSize: 50,
      maxEvents: Math.ceil((RATE * OUTAGE_MS) / 1000),
      maxDurationMs: OUTAGE_MS - 3000,
      eventsPerSecond: RATE,
      idPrefix: 'outage',
      props,
    });
    const hookStates = new Set<string>();
    const archiveLags: number[] = [];
    let maxRss = baseline;
    let lastHook: SinkStatusLine | undefined;
    let archiveDeliveredAtStart: number | undefined;
    let archiveDeliveredLater = 0;
    while (Date.now() - outageStart < OUTAGE_MS) {
      const sinks = await sinkStatus(b);
      const hook = sinks.find((s) => s.name === 'hook')!;
      const archive = sinks.find((s) => s.name === 'archive')!;
      hookStates.add(hook.state);
      lastHook = hook;
      archiveLags.push(archive.lagEvents);
      archiveDeliveredAtStart ??= archive.delivered;
      archiveDeliveredLater = archive.delivered;
      maxRss = Math.max(maxRss, rssMiB(pid));
      await sleep(500);
    }
    const outage = await load.done;
    const outageAcked = outage.acked.length;
    assert.ok(
      outageAcked > RATE * 5,
      withOutput(
        b,
        `too few events acknowledged during the outage (${outageAcked}): ${JSON.stringify(outage.statuses)} ${outage.lastError}`,
      ),
    );

    // While the receiver is still down: the file sink has everything, the http sink holds it all as lag.
    const archiveNow = await waitForSink(
      b,
      'archive',
      (s) => s.lagEvents === 0,
      10_000,
      'lag 0 while the http sink is down',
    );
    const hookNow = await oneSink(b, 'hook');
    const fileIds = new Set((await readNdjsonIds(join(dataDir, 'out', 'events.ndjson'))).ids);
    const notInFile = outage.acked.filter((id) => !fileIds.has(id));
    const statesSeen = [...hookStates].join(',');
    console.log(
      `sink outage ${OUTAGE_MS / 1000}s: acked=${outageAcked} hook states seen=${statesSeen} hook lag=${hookNow.lagEvents} ` +
        `archive max lag=${Math.max(...archiveLags)} archive delivered during outage=${archiveDeliveredLater - (archiveDeliveredAtStart ?? 0)} ` +
        `rss baseline=${baseline.toFixed(1)}MiB max during outage=${maxRss.toFixed(1)}MiB`,
    );
    assert.ok(
      hookStates.has('backing_off'),
      withOutput(
        b,
        `the http sink's state never showed backing_off during the outage; seen: ${statesSeen}; last: ${JSON.stringify(lastHook)}`,
      ),
    );
    assert.ok(
      hookNow.lagEvents >= outageAcked,
      `the http sink's lag (${hookNow.lagEvents}) should hold every event acknowledged during the outage (${outageAcked})`,
    );
    assert.equal(
      notInFile.length,
      0,
      `${notInFile.length} events acknowledged during the outage are not in the file sink while the http sink is down`,
    );
    assert.ok(
      archiveNow.delivered > (archiveDeliveredAtStart ?? 0),
      'the file sink delivered nothing during the outage',
    );
    assert.ok(
      Math.max(...archiveLags) < RATE * 2,
      `the file sink fell behind during the http sink's outage (max lag ${Math.max(...archiveLags)} events): a dead sink slowed another`,
    );

    // The receiver is back: everything arrives, by itself.
    await r.start();
    const backAt = Date.now();
    const expected = new Set([...warm.acked, ...outage.acked]);
    let maxRssCatchUp = maxRss;
    const rssTimer = setInterval(() => {
      try {
        maxRssCatchUp = Math.max(maxRssCatchUp, rssMiB(pid));
      } catch {
        // the process is gone; the assertions below will say so
      }
    }, 250);
    try {
      // The catch-up of ~360k events took 37-93 s on the shared 2-core machine (load average up to 27): headroom.
      await waitForSink(b, 'hook', (s) => s.lagEvents === 0, 180_000, 'lag 0 after the receiver came back');
    } finally {
      clearInterval(rssTimer);
    }
    const got = r.ids();
    const missing = [...expected].filter((id) => !got.has(id));
    const duplicates = r.events.length - got.size;
    console.log(
      `sink outage recovery: delivered ${got.size} distinct ids in ${((Date.now() - backAt) / 1000).toFixed(1)}s, duplicates=${duplicates}, ` +
        `rss max during catch-up=${maxRssCatchUp.toFixed(1)}MiB (+${(maxRssCatchUp - baseline).toFixed(1)}MiB over baseline)`,
    );
    assert.deepEqual(
      missing.slice(0, 10),
      [],
      withOutput(b, `${missing.length} of ${expected.size} acknowledged events never reached the receiver`),
    );
    assert.ok(
      maxRss - baseline < RSS_GROWTH_LIMIT_MIB,
      `RSS grew by ${(maxRss - baseline).toFixed(1)} MiB during the outage (baseline ${baseline.toFixed(1)} MiB): events are piling up in memory`,
    );
    assert.ok(
      maxRssCatchUp - baseline < RSS_GROWTH_LIMIT_MIB,
      `RSS grew by ${(maxRssCatchUp - baseline).toFixed(1)} MiB while catching up (baseline ${baseline.toFixed(1)} MiB)`,
    );
    const hookAfter = await waitForSink(
      b,
      'hook',
      (s) => s.state === 'idle' || s.state === 'delivering',
      10_000,
      'a healthy state',
    );
    assert.notEqual(hookAfter.state, 'backing_off');
  });
});

describe('an http sink whose receiver refuses some events with 400', { timeout: 60_000 }, () => {
  let beacon: BeaconProcess | undefined;
  let receiver: HttpReceiver | undefined;
  let dataDir: string;

  before(async () => {
    dataDir = await tempDataDir();
    receiver = await startHttpReceiver();
    receiver.rejectWhen((e) => e.props?.bad === true);
    beacon = await startBeacon(baseConfig(dataDir, receiver.url), { dataDir });
  });

  after(async () => {
    await beacon?.kill9().catch(() => undefined);
    await receiver?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('dead-letters exactly the refused events with a reason and delivers all the others', async () => {
    const b = beacon!;
    const r = receiver!;
    const isBad = (n: number) => n % 37 === 5;
    const load = await runLoad({
      url: b.url,
      connections: 4,
      batchSize: 25,
      maxEvents: 1500,
      maxDurationMs: 15_000,
      idPrefix: 'dlq',
      props: (n) => ({ n, bad: isBad(n) }),
    });
    assert.equal(
      load.acked.length,
      1500,
      withOutput(b, `not every event was acknowledged: ${JSON.stringify(load.statuses)} ${load.lastError}`),
    );
    const badIds = new Set(load.acked.filter((id) => isBad(Number(id.split('-').pop()))));
    const goodIds = load.acked.filter((id) => !badIds.has(id));

    const hook = await waitForSink(
      b,
      'hook',
      (s) => s.lagEvents === 0 && s.deadLettered >= badIds.size,
      30_000,
      'lag 0 with every bad event dead-lettered',
    );
    const dlqText = await readFile(join(dataDir, 'dlq', 'hook.ndjson'), 'utf8');
    const entries = dlqText
      .split('\n')
      .filter((l) => l !== '')
      .map(
        (l) =>
          JSON.parse(l) as {
            ts: number;
            sink: string;
            code: string;
            reason: string;
            errorType: string;
            event: { id: string; props: Record<string, unknown> };
          },
      );
    const dlqIds = entries.map((e) => e.event.id);
    const got = r.ids();
    console.log(
      `dead letter: sent=${load.acked.length} bad=${badIds.size} dead-lettered=${entries.length} delivered=${got.size} status.deadLettered=${hook.deadLettered} reason="${entries[0]?.reason}"`,
    );

    assert.deepEqual(
      [...dlqIds].sort(),
      [...badIds].sort(),
      'the dead letter holds exactly the refused events, each once',
    );
    for (const e of entries) {
      assert.equal(e.sink, 'hook');
      assert.equal(e.code, 'BEACON_E_SINK_REJECTED');
      assert.ok(
        typeof e.reason === 'string' && /400/.test(e.reason),
        `a dead-letter entry should say why (HTTP 400): ${JSON.stringify(e.reason)}`,
      );
      assert.equal(e.event.props.bad, true);
    }
    assert.deepEqual(
      goodIds.filter((id) => !got.has(id)),
      [],
      'every good event reached the receiver',
    );
    assert.deepEqual(
      [...got].filter((id) => badIds.has(id)),
      [],
      'no refused event was counted as delivered',
    );
    assert.equal(hook.deadLettered, badIds.size, 'the status counts the dead-lettered events');
  });
});
