/**
 * Fills an embedded store (`<dataDir>/store/events.duckdb`) with back-dated events before Beacon
 * starts on that dataDir. Events cannot be back-dated through HTTP: the collector stamps `ts`
 * with its receive time and keeps a client's `ts` as `clientTs` (src/event/fromSubmitted.ts),
 * and every query reads `ts`. So the file is written with the store's own code: StoreDatabase
 * (same DuckDB settings and table) and EventWriter (the internal sink's writer: one transaction
 * per batch, rows through eventTable.ts's appendEvent), in `ts` order as the sink would.
 *
 * The events: `total` spread evenly over [now - spanMs, now), typical browser events (UUIDv7-like
 * id, user agent, URL, party/session ids, anonymised address), a handful of types with a skew,
 * and a prop `path` with 50 values.
 */
import { join } from 'node:path';
import { EventWriter } from '../src/store/embedded/eventWriter.js';
import { StoreDatabase } from '../src/store/embedded/storeDatabase.js';
import type { TrackedEvent } from '../src/event/trackedEvent.js';
import { TYPICAL_ADDRESSES, TYPICAL_AGENTS, publicIp, skewed, userAgent } from './trafficShape.js';

/** Types with their share of events (a skew, as a site sees it). */
export const FILL_TYPES: readonly [string, number][] = [
  ['pageview', 0.6],
  ['click', 0.25],
  ['scroll', 0.1],
  ['signup', 0.04],
  ['purchase', 0.01],
];
export const FILL_PATHS = 50;

export interface StoreFillResult {
  events: number;
  seconds: number;
  from: number;
  to: number;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** A UUIDv7-shaped id: 48 bits of ms, then a counter, so ids grow with `ts` as server-made ones do. */
function uuid7(ts: number, seq: number): string {
  const t = hex(ts, 12);
  const r = hex(seq, 12).slice(-12);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${hex((seq >>> 12) & 0xfff, 3)}-8${hex(seq & 0xfff, 3)}-${r}`;
}

function pickType(u: number): string {
  let acc = 0;
  for (const [type, share] of FILL_TYPES) {
    acc += share;
    if (u < acc) return type;
  }
  return FILL_TYPES[0]![0];
}

export function makeEvent(ts: number, seq: number): TrackedEvent {
  const agent = skewed(TYPICAL_AGENTS);
  const ip = publicIp(skewed(TYPICAL_ADDRESSES)).replace(/\.\d+$/, '.0');
  const path = `/docs/page-${skewed(FILL_PATHS)}`;
  const party = seq % 20_000;
  return {
    id: uuid7(ts, seq),
    type: pickType(Math.random()),
    ts,
    clientTs: ts - 40,
    partyId: `00000000-0000-4000-8000-${hex(party, 12)}`,
    sessionId: `00000000-0000-4000-9000-${hex(party * 7 + (Math.floor(ts / 1_800_000) % 7), 12)}`,
    ip,
    ua: userAgent(agent),
    url: `https://www.example.com${path}`,
    referrer: 'https://www.example.com/',
    props: { path, plan: seq % 5 === 0 ? 'pro' : 'free', n: seq % 10 },
    meta: { source: 'http', ua: { browser: agent % 6 === 2 ? 'Firefox' : 'Chrome', os: 'Linux' } },
  };
}

export async function fillEmbeddedStore(
  dataDir: string,
  total: number,
  opts: { spanMs: number; now?: number; batch?: number; timeoutMs?: number; onProgress?: (done: number) => void },
): Promise<StoreFillResult> {
  const now = opts.now ?? Date.now();
  const from = now - opts.spanMs;
  const step = opts.spanMs / total;
  const batchSize = opts.batch ?? 50_000;
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  const t0 = Date.now();
  // Beacon's defaults (docs/query-api.md): 48 MiB buffer pool, 1 thread, 1 GiB of spill.
  const db = await StoreDatabase.open({
    dir: join(dataDir, 'store'),
    memoryLimitBytes: 48 * 1024 ** 2,
    threads: 1,
    maxTempBytes: 1024 ** 3,
  });
  let written = 0;
  let lastReport = Date.now();
  try {
    const writer = new EventWriter(db.writer);
    for (let i = 0; i < total; i += batchSize) {
      if (Date.now() > deadline)
        throw new Error(`store fill did not finish in time (${written} of ${total} events written)`);
      const batch: TrackedEvent[] = [];
      for (let k = i; k < Math.min(total, i + batchSize); k++) batch.push(makeEvent(Math.floor(from + k * step), k));
      written += await writer.write(batch);
      if (Date.now() - lastReport > 5000) {
        lastReport = Date.now();
        opts.onProgress?.(written);
      }
    }
  } finally {
    // Closing checkpoints the WAL into the file, so Beacon opens a settled file.
    await db.close();
  }
  if (written !== total) throw new Error(`store fill wrote ${written} events, expected ${total}`);
  return { events: written, seconds: (Date.now() - t0) / 1000, from, to: now };
}
