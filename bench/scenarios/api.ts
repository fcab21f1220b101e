/**
 * api: the query API over a filled embedded store (issue 5): requests/s and p50/p99 of a
 * real-time query (counts of the last hour in minute buckets) and an archive query (counts per
 * day over 30 days), each against Beacon with its default micro-cache (api.cache.realtime 2 s,
 * archive 1 h) and against Beacon with `api.cache: { realtime: 0, archive: 0 }` (every request
 * queries the store; identical requests in flight are still coalesced, as the cache always does).
 *
 * The store holds N events (1,000,000; 100,000 with --quick) spread over the last 30 days,
 * written into `<dataDir>/store/events.duckdb` with the store's own writer before Beacon starts
 * (bench/storeFill.ts: HTTP cannot back-date events). Both Beacons run, one after the other, on
 * that same dataDir with the default store settings. wrk sends plain GETs (no If-None-Match), so
 * every answer measured is a full 200; any other status is counted and flagged.
 */
import { join } from 'node:path';
import { startBeacon, type BeaconServer } from '../beacon.js';
import type { BenchContext } from '../context.js';
import { httpGet } from '../proc.js';
import { fmt, newResult, type ScenarioResult } from '../report.js';
import { FILL_PATHS, FILL_TYPES, fillEmbeddedStore } from '../storeFill.js';
import { wrkProblems, type WrkResult } from '../wrk.js';
import { getCountingScript } from '../wrkScripts.js';

const DAY = 86_400_000;
/** Stored events: 1M in a full run (issue 5), 100k with --quick. */
export function apiEvents(quick: boolean): number {
  return quick ? 100_000 : 1_000_000;
}
/** Events span the last 30 days minus an hour, so retention (maxAge 30d, run at start and every minute) deletes none during the run. */
const SPAN_MS = 30 * DAY - 3_600_000;
const FILL_TIMEOUT_MS = 5 * 60_000;

const UNCACHED_YAML = `api:
  cache: { realtime: 0, archive: 0 }
`;

interface Query {
  key: 'real-time' | 'archive';
  cls: 'realtime' | 'archive';
  path: string;
}

interface Run {
  wrk: WrkResult;
  ok: number;
  cache: Record<string, number>;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** 200 answers per second: a 304, 4xx or 5xx is not an answer to this benchmark. */
function okPerSec(r: WrkResult): number {
  const counted = Object.entries(r.status);
  if (counted.length === 0) return NaN;
  return (r.status['200'] ?? 0) / r.durationSec;
}

function problems(r: WrkResult): string {
  return wrkProblems({ ...r, errors: { ...r.errors, status: 0 } }, 200);
}

/** `beacon_api_cache_requests_total` by result for one class, summed over the series /metrics shows. */
async function cacheCounts(beacon: BeaconServer, cls: string): Promise<Record<string, number>> {
  const { body } = await httpGet(`${beacon.url}/metrics`, 5000).catch(() => ({ body: '' }));
  const out: Record<string, number> = {};
  for (const line of body.split('\n')) {
    if (!line.startsWith('beacon_api_cache_requests_total{') || !line.includes(`class="${cls}"`)) continue;
    const result = /result="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (result && Number.isFinite(value)) out[result] = (out[result] ?? 0) + value;
  }
  return out;
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

/** The answer must count what was filled: a store that did not open the file would answer zeros fast. */
async function checkAnswers(beacon: BeaconServer, queries: Query[], events: number): Promise<void> {
  for (const q of queries) {
    const { status, body } = await httpGet(beacon.url + q.path, 60_000);
    if (status !== 200) throw new Error(`GET ${q.path} answered ${status}: ${body.slice(0, 200)}`);
    const total = (JSON.parse(body) as { buckets: { total: number }[] }).buckets.reduce((a, b) => a + b.total, 0);
    if (q.key === 'archive' && total !== events)
      throw new Error(`the archive query counted ${total} events, expected ${events}`);
    if (q.key === 'real-time' && total === 0) throw new Error('the real-time query counted no events in the last hour');
  }
}

async function measureMode(
  ctx: BenchContext,
  mode: 'cached' | 'uncached',
  queries: Query[],
  events: number,
): Promise<Record<Query['key'], Run>> {
  const dir = join(ctx.tmp, 'beacon-api');
  ctx.log(
    `starting Beacon (${mode === 'cached' ? 'default api.cache' : 'api.cache realtime 0, archive 0'}) on the filled store`,
  );
  const beacon = await startBeacon({ dir, sinks: [], extraYaml: mode === 'uncached' ? UNCACHED_YAML : '' });
  const out = {} as Record<Query['key'], Run>;
  try {
    await checkAnswers(beacon, queries, events);
    const script = getCountingScript();
    for (const q of queries) {
      // Read around the whole load (warm-up included): they show the mix of hits, misses and coalesced requests.
      const before = await cacheCounts(beacon, q.cls);
      const wrk = await ctx.load(`api ${q.key} ${mode}`, beacon.url + q.path, script, 'api.lua');
      const cache = diff(await cacheCounts(beacon, q.cls), before);
      out[q.key] = { wrk, ok: okPerSec(wrk), cache };
    }
  } finally {
    ctx.rssPeaks.push(await beacon.stop());
  }
  return out;
}

export async function api(ctx: BenchContext): Promise<ScenarioResult> {
  const res = newResult('api');
  if (ctx.opts.referenceOnly) {
    res.notes.push(
      'reference only (--reference-only): this scenario has no outside reference; its reference is Beacon with the API cache off',
    );
    return res;
  }
  const events = apiEvents(ctx.opts.quick);
  const labels = ['real-time', 'archive'] as const;
  try {
    const dataDir = join(ctx.tmp, 'beacon-api', 'data');
    ctx.log(
      `filling the embedded store with ${events.toLocaleString('en-US')} events over the last 30 days (store writer, no HTTP)`,
    );
    const filled = await fillEmbeddedStore(dataDir, events, {
      spanMs: SPAN_MS,
      timeoutMs: FILL_TIMEOUT_MS,
      onProgress: (n) =>
        ctx.log(`  store fill: ${n.toLocaleString('en-US')} of ${events.toLocaleString('en-US')} events`),
    });
    ctx.log(`store filled: ${filled.events.toLocaleString('en-US')} events in ${filled.seconds.toFixed(1)} s`);

    const queries: Query[] = [
      { key: 'real-time', cls: 'realtime', path: '/api/v1/query/counts/recent?minutes=60&bucket=1m' },
      {
        key: 'archive',
        cls: 'archive',
        path: `/api/v1/query/counts?from=${day(filled.from)}&to=${day(filled.to)}&interval=day`,
      },
    ];
    const cached = await measureMode(ctx, 'cached', queries, events);
    const uncached = await measureMode(ctx, 'uncached', queries, events);

    for (const key of labels) {
      for (const [mode, run] of [
        ['cached', cached[key]],
        ['uncached', uncached[key]],
      ] as const) {
        const statuses = Object.entries(run.wrk.status)
          .map(([s, n]) => `${s}×${fmt.int(n)}`)
          .join(', ');
        const cache = Object.entries(run.cache)
          .filter(([, n]) => n > 0)
          .map(([r, n]) => `${r} ${fmt.int(n)}`)
          .join(', ');
        const p = problems(run.wrk);
        res.rows.push({
          scenario: 'api',
          subject: `${key} query, ${mode === 'cached' ? 'cached (default)' : 'cache off'}`,
          throughput: `${fmt.int(run.ok)} req/s`,
          p50: fmt.ms(run.wrk.latency.p50),
          p99: fmt.ms(run.wrk.latency.p99),
          notes: [
            statuses ? `HTTP ${statuses}` : '',
            cache ? `cache ${cache} (warm-up included)` : '',
            p ? `! ${p}` : '',
          ]
            .filter(Boolean)
            .join('; '),
        });
        if (p) res.notes.push(`${key} ${mode} run had ${p}`);
      }
      const c = cached[key];
      const u = uncached[key];
      res.ratios.push({ label: `api ${key} cached/uncached req/s`, value: c.ok / u.ok });
      res.ratios.push({
        label: `api ${key} cached/uncached p99 latency (lower is better)`,
        value: c.wrk.latency.p99 / u.wrk.latency.p99,
      });
    }
    for (const q of queries) res.commands.push(cached[q.key].wrk.command.replace(/-s \S+/, '-s api.lua'));
    res.notes.push(
      `${events.toLocaleString('en-US')} events over the last 30 days in the embedded store (default store settings), ${FILL_TYPES.length} types, a prop with ${FILL_PATHS} values; ` +
        `written with the store's own writer before Beacon started (${filled.seconds.toFixed(0)} s), since HTTP stamps ts with the receive time. ` +
        'Cache off is `api.cache: { realtime: 0, archive: 0 }`: every request queries the store, but identical requests in flight still share one query (the cache coalesces even with a TTL of 0). ' +
        'wrk sends no If-None-Match, so every measured answer is a full 200.',
    );
  } catch (e) {
    for (const key of labels) res.ratios.push({ label: `api ${key} cached/uncached req/s`, value: NaN });
    res.error = `Beacon: ${(e as Error).message}`;
  }
  return res;
}
