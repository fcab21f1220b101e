import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { startHttpReceiver, type HttpReceiver } from '../support/httpReceiver.js';
import { startLoad } from '../support/loadClient.js';
import { alive, pixelAnswers, sleep, tempDataDir, waitForSink, withOutput } from './helpers.js';

/**
 * (d) A full log pushes back, it never drops. With a 256 KiB log and the only sink's receiver
 * down, appends soon answer 503 with Retry-After and BEACON_E_LOG_FULL. Once the receiver is
 * back the sink drains the log, retention frees segments, and Beacon accepts again without
 * any help; every event it acknowledged reaches the receiver.
 */
describe('a full local log', { timeout: 90_000 }, () => {
  let beacon: BeaconProcess | undefined;
  let receiver: HttpReceiver | undefined;
  let dataDir: string;

  before(async () => {
    dataDir = await tempDataDir();
    receiver = await startHttpReceiver();
    await receiver.stop(); // down from the start: nothing leaves the log
    beacon = await startBeacon(
      {
        server: { workers: 1 },
        log: { type: 'local', maxBytes: '256KiB', segmentBytes: '32KiB', retryAfterSeconds: 1, cursorSyncMs: 100 },
        dispatch: { maxFailoverDuration: '1s', initialBackoff: '50ms' },
        sinks: [
          {
            name: 'hook',
            type: 'http',
            url: receiver.url,
            format: 'ndjson',
            batch: { maxEvents: 200, maxWaitMs: 20 },
            timeoutMs: 2000,
          },
        ],
      },
      { dataDir },
    );
  });

  after(async () => {
    await beacon?.kill9().catch(() => undefined);
    await receiver?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After when full, accepts again by itself once the sink drains, and loses nothing it acknowledged', async () => {
    const b = beacon!;
    const r = receiver!;
    const pad = 'y'.repeat(200);
    const load = startLoad({
      url: b.url,
      connections: 4,
      batchSize: 20,
      maxEvents: 50_000,
      maxDurationMs: 20_000,
      idPrefix: 'full',
      props: (n) => ({ n, pad }),
    });
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(load.snapshot().statuses['503'] ?? 0)) await sleep(50);
    await sleep(500); // keep pushing against the full log for a moment
    load.stop();
    const result = await load.done;
    const expected = new Set(result.acked);
    console.log(`log full: acked before full=${result.acked.length} statuses=${JSON.stringify(result.statuses)}`);

    assert.ok(
      (result.statuses['503'] ?? 0) > 0,
      withOutput(
        b,
        `no append was refused with 503 although the log is 256 KiB and its sink is down: ${JSON.stringify(result.statuses)}`,
      ),
    );
    assert.ok(result.acked.length > 0, 'events were acknowledged before the log filled');
    const sample = result.samples['503']!;
    assert.match(String(sample.headers['retry-after']), /^[1-9]\d*$/, 'a 503 carries Retry-After in whole seconds');
    assert.equal((JSON.parse(sample.body) as { code: string }).code, 'BEACON_E_LOG_FULL');
    assert.equal(result.statuses.error ?? 0, 0, `no request should fail at the connection level: ${result.lastError}`);

    // Still full: single events fit into what room is left, then are refused the same way.
    let probe = await postOne(b, 'still-full-0');
    for (let i = 1; probe.status === 200 && i < 200; i++) {
      expected.add(`still-full-${i - 1}`);
      probe = await postOne(b, `still-full-${i}`);
    }
    assert.equal(probe.status, 503, 'single events are refused once the log is full');
    assert.ok(probe.retryAfter, 'the 503 carries Retry-After');
    assert.equal(probe.body.code, 'BEACON_E_LOG_FULL');
    assert.ok(alive(b), withOutput(b, 'beacon died while its log was full'));

    // The receiver comes back: Beacon must take events again by itself, within a bounded time.
    await r.start();
    const backAt = Date.now();
    let acceptedAfterMs: number | undefined;
    let n = 0;
    while (Date.now() - backAt < 30_000) {
      const id = `after-${n++}`;
      const res = await postOne(b, id);
      if (res.status === 200) {
        expected.add(id);
        acceptedAfterMs = Date.now() - backAt;
        break;
      }
      assert.equal(
        res.status,
        503,
        `while draining, an append is either accepted or refused with 503; got ${res.status} ${JSON.stringify(res.body)}`,
      );
      await sleep(200);
    }
    console.log(`log full: accepted again ${acceptedAfterMs} ms after the receiver came back`);
    assert.ok(
      acceptedAfterMs !== undefined,
      withOutput(b, 'Beacon still refuses appends 30 s after its sink came back'),
    );

    await waitForSink(b, 'hook', (s) => s.lagEvents === 0, 30_000, 'lag 0 after the receiver came back');
    const got = r.ids();
    const missing = [...expected].filter((id) => !got.has(id));
    assert.deepEqual(
      missing.slice(0, 10),
      [],
      withOutput(b, `${missing.length} of ${expected.size} acknowledged events never reached the receiver`),
    );
    assert.equal(await pixelAnswers(b), 204);
  });
});

async function postOne(
  b: BeaconProcess,
  id: string,
): Promise<{ status: number; retryAfter: string | null; body: { code?: string } }> {
  const res = await fetch(`${b.url}/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ type: 'probe', id, props: { probe: true } }]),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let body: { code?: string } = {};
  try {
    body = JSON.parse(text) as { code?: string };
  } catch {
    // not JSON; the assertions show the status
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
}
