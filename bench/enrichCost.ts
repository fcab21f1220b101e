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

const EVENTS = Number(process.env.ENRICH_BENCH_EVENTS ?? 200_000);

const TEMPLATES = [
  (v: number) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${100 + (v % 30)}.0.${v}.0 Safari/537.36`,
  (v: number) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${15 + (v % 4)}.${v % 7} Safari/605.1.15`,
  (v: number) => `Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:${100 + (v % 25)}.0) Gecko/20100101 Firefox/${100 + (v % 25)}.${v % 3}`,
  (v: number) => `Mozilla/5.0 (iPhone; CPU iPhone OS 17_${v % 6} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${v % 6} Mobile/15E${148 + v} Safari/604.1`,
  (v: number) => `Mozilla/5.0 (Linux; Android ${10 + (v % 5)}; SM-G9${v % 100}0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${110 + (v % 10)}.0.0.0 Mobile Safari/537.36`,
  (v: number) => `Mozilla/5.0 (compatible; Googlebot/2.${v % 3}; +http://www.google.com/bot.html)`,
];

function userAgent(n: number): string {
  return TEMPLATES[n % TEMPLATES.length]!(Math.floor(n / TEMPLATES.length));
}

function publicIp(n: number): string {
  // Spread over 1.0.0.0 - 223.255.255.255 by a multiplicative hash; a few are private, as in real traffic.
  const x = (Math.imul(n + 1, 2_654_435_761) >>> 0) % (223 * 2 ** 24);
  const v = x + 2 ** 24;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** A skewed pick in [0, n): the square of a uniform number favours small indexes (rank 0 is ~7% of draws for n=200). */
function skewed(n: number): number {
  const u = Math.random();
  return Math.floor(u * u * n);
}

/** A fresh flat string with its hash not yet computed, as node's HTTP parser hands each request's headers over. */
function asFromWire(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

function event(ua: string, ip: string, ts: number): TrackedEvent {
  // Keys in the order the collector adds them (meta last).
  const e: Partial<TrackedEvent> = { id: '0193a0c4-5e1b-7c3a-9f2e-1b2c3d4e5f60', type: 'pageview', ts, props: { path: '/home' } };
  e.ip = asFromWire(ip);
  e.ua = asFromWire(ua);
  e.meta = { source: 'http' };
  return e as TrackedEvent;
}

function makeEvents(shape: 'typical' | 'worst'): TrackedEvent[] {
  const ts = Date.now();
  const out: TrackedEvent[] = new Array(EVENTS);
  for (let i = 0; i < EVENTS; i++) {
    out[i] = shape === 'typical' ? event(userAgent(skewed(600)), publicIp(skewed(5000)), ts) : event(`${userAgent(1000 + i)} build/${i}`, publicIp(100_000 + i), ts);
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

const OFF = { ua: { enabled: false }, bots: { enabled: false }, geo: { enabled: false }, ip: { anonymize: 'none' }, clockSkew: false };

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
