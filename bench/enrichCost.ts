/**
 * Enrichment cost per event, in process: `node --import tsx bench/enrichCost.ts`.
 *
 * Builds events the way the HTTP collector does (keys in the json codec's order, meta last),
 * then times `chain.run([event])` per event (one pixel request = one run), for the whole
 * default chain and for each step alone. Two traffic shapes:
 * - `typical`: a few hundred distinct user agents and a few thousand client addresses, drawn
 *   with a skew (a few agents and addresses are most of the traffic), as real sites see;
 * - `worst`: every event has a user agent and an address never seen before (every cache misses).
 * Standalone on purpose: it does not touch the `npm run bench` harness (bench/main.ts).
 */
import { configSchema } from '../src/config/schema.js';
import { createEnrichChain } from '../src/enrich/chain.js';
import type { TrackedEvent } from '../src/event/trackedEvent.js';
import { createMetrics } from '../src/ops/metrics.js';
import { TYPICAL_ADDRESSES, TYPICAL_AGENTS, publicIp, skewed, userAgent } from './trafficShape.js';

const EVENTS = Number(process.env.ENRICH_BENCH_EVENTS ?? 200_000);

/** A fresh flat string with its hash not yet computed, as node's HTTP parser hands each request's headers over. */
function asFromWire(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

function event(ua: string, ip: string, ts: number): TrackedEvent {
  // Keys in the order the collector adds them (meta last).
  const e: Partial<TrackedEvent> = {
    id: '0193a0c4-5e1b-7c3a-9f2e-1b2c3d4e5f60',
    type: 'pageview',
    ts,
    props: { path: '/home' },
  };
  e.ip = asFromWire(ip);
  e.ua = asFromWire(ua);
  e.meta = { source: 'http' };
  return e as TrackedEvent;
}

function makeEvents(shape: 'typical' | 'worst'): TrackedEvent[] {
  const ts = Date.now();
  const out: TrackedEvent[] = new Array(EVENTS);
  for (let i = 0; i < EVENTS; i++) {
    out[i] =
      shape === 'typical'
        ? event(userAgent(skewed(TYPICAL_AGENTS)), publicIp(skewed(TYPICAL_ADDRESSES)), ts)
        : event(`${userAgent(1000 + i)} build/${i}`, publicIp(100_000 + i), ts);
  }
  return out;
}

async function measure(label: string, enrich: Record<string, unknown>, shape: 'typical' | 'worst'): Promise<void> {
  const metrics = createMetrics();
  const chain = createEnrichChain(configSchema.parse({ enrich }).enrich, { metrics });
  // Warm up on another set (JIT, and the caches as a running collector has them).
  for (const e of makeEvents(shape).slice(0, 20_000)) chain.run([e]);
  const events = makeEvents(shape);
  const before = await lookups(metrics);
  const started = process.hrtime.bigint();
  for (let i = 0; i < events.length; i++) chain.run([events[i]!]);
  const ns = Number(process.hrtime.bigint() - started);
  const after = await lookups(metrics);
  const hits = after.hit - before.hit;
  const total = hits + after.miss - before.miss;
  const hitRate = total === 0 ? '-' : `${((100 * hits) / total).toFixed(1)}%`;
  console.log(`| ${label} | ${shape} | ${(ns / events.length / 1000).toFixed(2)} | ${hitRate} |`);
}

async function lookups(metrics: ReturnType<typeof createMetrics>): Promise<{ hit: number; miss: number }> {
  const { values } = await metrics.enrichUaCacheLookups.get();
  const of = (result: string) => values.find((v) => v.labels.result === result)?.value ?? 0;
  return { hit: of('hit'), miss: of('miss') };
}

const OFF = {
  ua: { enabled: false },
  bots: { enabled: false },
  geo: { enabled: false },
  ip: { anonymize: 'none' },
  clockSkew: false,
};

console.log(`node ${process.version}, ${EVENTS} events per row, one chain.run([event]) per event\n`);
console.log('| chain | traffic | µs per event | UA cache hit rate |');
console.log('|---|---|---|---|');
for (const shape of ['typical', 'worst'] as const) {
  await measure('all steps (defaults)', {}, shape);
  await measure('user agent only', { ...OFF, ua: { enabled: true } }, shape);
  await measure('bot only', { ...OFF, bots: { enabled: true } }, shape);
  await measure('geo only', { ...OFF, geo: { enabled: true } }, shape);
  await measure('ip truncate only', { ...OFF, ip: { anonymize: 'truncate' } }, shape);
  await measure('none (empty chain)', OFF, shape);
}
