/**
 * Sink-level scenarios (rabbitmq, jetstream, kafka, postgres, mysql, clickhouse): the real
 * Dispatcher and sink draining N events pre-filled in an in-memory log that decodes each event
 * on read as the local log does (bench/recordLog.ts), so the figure is the sink and the
 * dispatch loop, not Beacon's disk log (the dispatch scenario measures that).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Dispatcher } from '../src/dispatch/dispatcher.js';
import { getCodec } from '../src/event/codecs/registry.js';
import type { TrackedEvent } from '../src/event/trackedEvent.js';
import { silentLogger } from '../src/ops/logger.js';
import { createMetrics } from '../src/ops/metrics.js';
import type { BaseSinkConfig } from '../src/sinks/sinkConfig.js';
import { RecordLog } from './recordLog.js';
import { parseSinkConfig } from '../src/config/parseSinkConfig.js';

/** `n` events shaped like the collector's (about 200 bytes as JSON), distinct ids. */
export function benchEvents(n: number, run = ''): TrackedEvent[] {
  const ts = Date.now();
  const tag = run
    .replace(/[^0-9a-f]/g, '')
    .padEnd(4, '0')
    .slice(0, 4);
  return Array.from({ length: n }, (_, i) => ({
    id: `0190f5c2-${tag}-7000-8000-${String(i).padStart(12, '0')}`,
    type: 'pageview',
    ts: ts + i,
    sessionId: 's-1',
    ip: '127.0.0.1',
    url: `https://example.com/docs/page-${i % 97}`,
    props: { k: 'v', n: i % 20 },
    meta: { source: 'http' },
  }));
}

/** The bytes the json codec writes for `event`: what a sink with `codec: json` publishes. */
export function jsonPayload(event: TrackedEvent): Buffer {
  return getCodec('json').encode(event);
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}

export interface Drained {
  delivered: number;
  /** Attempts that failed and were retried (the figure still counts each event once). */
  errors: number;
  /** From dispatcher.start() (the sink's open: connect, checks) until every event was delivered. */
  seconds: number;
  perSec: number;
}

/**
 * Drains `events` through a real Dispatcher into the sink `config` (parsed by its schema).
 * With `progress`, a line every 10 s (a slow database can take minutes).
 */
export async function drainThroughDispatcher(
  config: BaseSinkConfig & Record<string, unknown>,
  events: readonly TrackedEvent[],
  timeoutMs: number,
  progress?: (msg: string) => void,
): Promise<Drained> {
  const n = events.length;
  const log = new RecordLog();
  for (let i = 0; i < n; i += 10_000) await log.append(events.slice(i, i + 10_000));
  const dataDir = mkdtempSync(join(tmpdir(), `beacon-bench-${config.type}-`));
  const dispatcher = new Dispatcher({
    log,
    sinks: [{ config: parseSinkConfig(config) }],
    dispatch: { maxFailoverDuration: 1000, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
    dataDir,
    logger: silentLogger,
    metrics: createMetrics(new Registry()),
  });
  const started = performance.now();
  const ticker = progress
    ? setInterval(
        () =>
          progress(
            `${config.name}: ${dispatcher.status()[0]!.delivered.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} delivered after ${((performance.now() - started) / 1000).toFixed(0)} s`,
          ),
        10_000,
      )
    : undefined;
  try {
    await dispatcher.start();
    const done = await waitUntil(() => dispatcher.status()[0]!.delivered >= n, timeoutMs, 5);
    const seconds = (performance.now() - started) / 1000;
    const s = dispatcher.status()[0]!;
    if (!done)
      throw new Error(
        `the ${config.type} sink delivered ${s.delivered} of ${n} events in ${seconds.toFixed(0)} s${s.lastError ? ` (last error: ${s.lastError.message})` : ''}`,
      );
    if (s.deadLettered > 0)
      throw new Error(
        `the ${config.type} sink dead-lettered ${s.deadLettered} of ${n} events${s.lastError ? ` (${s.lastError.message})` : ''}`,
      );
    return { delivered: s.delivered, errors: s.errors, seconds, perSec: n / seconds };
  } finally {
    clearInterval(ticker);
    await dispatcher.stop(5000).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}
