/** batch: POST /batch with a JSON array of N small events — events acked per second (HTTP 200 only). */
import { BeaconUnavailable } from '../beacon.js';
import type { BenchContext } from '../context.js';
import { fmt, newResult, type ScenarioResult } from '../report.js';
import { wrkProblems, type WrkResult } from '../wrk.js';
import { postScript } from '../wrkScripts.js';

/** Issue 13's target for the defaults the bench runs (embedded store on); 400k is its target with `store.type: none`. */
export const BATCH_TARGET_EVENTS_PER_SEC = 300_000;

/** `n` small events, as a browser tracker would send them; distinct enough to not look duplicated. */
export function batchBody(n: number, seed = 0): string {
  const events = Array.from({ length: n }, (_, i) => ({
    type: i % 5 === 0 ? 'click' : 'pageview',
    url: `https://example.com/docs/page-${(seed + i) % 97}`,
    sessionId: `s-${seed % 1000}`,
    props: { k: 'v', n: i },
  }));
  return JSON.stringify(events);
}

export async function batch(ctx: BenchContext): Promise<ScenarioResult> {
  const res = newResult('batch');
  const n = ctx.opts.batchSize;
  const script = postScript('/batch', batchBody(n));
  const acked = (r: WrkResult) => ((r.status['200'] ?? 0) * n) / r.durationSec;
  const row = (subject: string, r: WrkResult) => {
    const p = wrkProblems(r, 200);
    res.rows.push({
      scenario: `batch×${n}`,
      subject,
      throughput: `${fmt.int(acked(r))} ev/s`,
      p50: fmt.ms(r.latency.p50),
      p99: fmt.ms(r.latency.p99),
      notes: [`${fmt.int((r.status['200'] ?? 0) / r.durationSec)} req/s`, p].filter(Boolean).join('; '),
    });
    return p;
  };

  const nginx = await ctx.getNginx();
  const ref = await ctx.load('batch nginx', `${nginx.url}/batch`, script, 'batch.lua');
  row('nginx', ref);
  res.commands.push(ref.command.replace(/-s \S+/, '-s batch.lua'));
  res.notes.push(
    `wrk POSTs ${Buffer.byteLength(batchBody(n))} bytes of JSON (${n} events) per request; events/s counts only HTTP 200 answers × ${n}`,
  );

  const missing = { value: NaN };
  if (ctx.opts.referenceOnly) {
    res.ratios.push({ label: 'batch Beacon/nginx events/s', ...missing });
    res.ratios.push({
      label: 'batch Beacon events/s',
      ...missing,
      kind: 'absolute',
      unit: 'ev/s',
      target: BATCH_TARGET_EVENTS_PER_SEC,
    });
    res.notes.push('reference only (--reference-only)');
    return res;
  }
  try {
    const beacon = await ctx.getLoadBeacon();
    const b = await ctx.load('batch Beacon', `${beacon.url}/batch`, script, 'batch.lua');
    const p = row('Beacon', b);
    res.commands.push(b.command.replace(/-s \S+/, '-s batch.lua'));
    res.ratios.push({ label: 'batch Beacon/nginx events/s', value: acked(b) / acked(ref) });
    res.ratios.push({
      label: 'batch Beacon events/s',
      value: acked(b),
      kind: 'absolute',
      unit: 'ev/s',
      target: BATCH_TARGET_EVENTS_PER_SEC,
    });
    if (p) res.notes.push(`Beacon run: ${p}`);
  } catch (e) {
    res.ratios.push({ label: 'batch Beacon/nginx events/s', ...missing });
    res.ratios.push({
      label: 'batch Beacon events/s',
      ...missing,
      kind: 'absolute',
      unit: 'ev/s',
      target: BATCH_TARGET_EVENTS_PER_SEC,
    });
    res.error = e instanceof BeaconUnavailable ? e.message : `Beacon: ${(e as Error).message}`;
  }
  return res;
}
