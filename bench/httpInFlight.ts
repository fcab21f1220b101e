/**
 * The http sink's `batch.inFlight`, swept alone:
 * `node --import tsx bench/httpInFlight.ts [--events 200000] [--delay 5] [--rounds 2] [--in-flight 1,2,4,8]`.
 *
 * One Dispatcher with one http sink drains `--events` events from an in-memory log (the tests'
 * MemoryLog: no disk, no other sink, no collector) into bench/receiver.ts, run in its own
 * process and answering each batch `--delay` ms after its body arrived, as a remote endpoint
 * would. Each round runs every inFlight value once, in order, so the values alternate under the
 * same machine load; events/s is events over the time from start to the last commit.
 * Standalone, like bench/handlerCost.ts.
 */
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Registry } from 'prom-client';
import { parseSinkConfig } from '../src/config/parseSinkConfig.js';
import { Dispatcher } from '../src/dispatch/dispatcher.js';
import { silentLogger } from '../src/ops/logger.js';
import { createMetrics } from '../src/ops/metrics.js';
import { MemoryLog } from '../test/support/memoryLog.js';
import { REPO_ROOT } from './beacon.js';
import { sleep, start, stop } from './proc.js';

const flag = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1]!;
};
const EVENTS = Number(flag('--events', '200000'));
const DELAY_MS = Number(flag('--delay', '5'));
const ROUNDS = Number(flag('--rounds', '2'));
const IN_FLIGHT = flag('--in-flight', '1,2,4,8').split(',').map(Number);
/** Bound on one drain: a run that does not finish by then is reported as such. */
const DRAIN_LIMIT_MS = 120_000;

const receiver = start(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/receiver.ts')], {
  cwd: REPO_ROOT,
  env: { ...process.env, RECEIVER_DELAY_MS: String(DELAY_MS) },
});
let port = 0;
for (const deadline = Date.now() + 15_000; !port;) {
  const m = /RECEIVER_PORT (\d+)/.exec(receiver.stdout());
  if (m) port = Number(m[1]);
  else if (Date.now() > deadline) throw new Error('bench receiver did not start');
  else await sleep(50);
}

const events = Array.from({ length: EVENTS }, (_, i) => ({
  id: `0190f5c2-0000-7000-8000-${String(i).padStart(12, '0')}`,
  type: 'pageview',
  ts: Date.now() + i,
  url: `https://example.com/docs/page-${i % 97}`,
  props: { k: 'v', n: i % 20 },
  meta: { source: 'http' },
}));

async function drain(inFlight: number): Promise<{ evps: number; seconds: number; done: boolean }> {
  const log = new MemoryLog();
  await log.append(events);
  const dispatcher = new Dispatcher({
    log,
    sinks: [
      {
        config: parseSinkConfig({
          name: 'bench-http',
          type: 'http',
          url: `http://127.0.0.1:${port}/ingest`,
          batch: { inFlight },
        }),
      },
    ],
    dispatch: { maxFailoverDuration: 500, initialBackoff: 50, logEvery: 0, shutdownTimeout: 5000 },
    dataDir: mkdtempSync(join(tmpdir(), 'beacon-bench-inflight-')),
    logger: silentLogger,
    metrics: createMetrics(new Registry()),
  });
  const t0 = performance.now();
  await dispatcher.start();
  while (log.committedOf('bench-http') < EVENTS && performance.now() - t0 < DRAIN_LIMIT_MS) await sleep(2);
  const seconds = (performance.now() - t0) / 1000;
  const done = log.committedOf('bench-http') === EVENTS;
  await dispatcher.stop(5000);
  return { evps: log.committedOf('bench-http') / seconds, seconds, done };
}

try {
  console.log(`${EVENTS} events, batch.maxEvents 500, receiver answers after ${DELAY_MS} ms`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const n of IN_FLIGHT) {
      const r = await drain(n);
      console.log(
        `round ${round} inFlight ${n}: ${Math.round(r.evps)} ev/s (${r.seconds.toFixed(2)} s)${r.done ? '' : ' DID NOT DRAIN'}`,
      );
    }
  }
} finally {
  await stop(receiver, 3000);
}
