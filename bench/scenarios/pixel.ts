/** pixel: GET /t/pageview?k=v — nginx `return 204` (access_log on) vs Beacon (ack after fsync). */
import { BeaconUnavailable } from '../beacon.js';
import type { BenchContext } from '../context.js';
import { fmt, newResult, type ScenarioResult } from '../report.js';
import { wrkProblems, type WrkResult } from '../wrk.js';
import { getCountingScript, pacedGetCountingScript } from '../wrkScripts.js';

export const PIXEL_PATH = '/t/pageview?k=v';
export const PIXEL_TARGET_RATIO = 0.35;
/** Issue 13: p99 under 5 ms at half of Beacon's measured maximum rate. */
export const PIXEL_HALF_RATE_P99_TARGET_MS = 5;

/** 2xx responses per second (a 4xx/5xx answer is not an ack). */
function okRps(r: WrkResult): number {
  const counted = Object.entries(r.status);
  if (counted.length === 0) return r.rps;
  const ok = counted.filter(([s]) => Number(s) >= 200 && Number(s) < 300).reduce((a, [, n]) => a + n, 0);
  return ok / r.durationSec;
}

function problems(r: WrkResult): string {
  const bad = Object.entries(r.status).filter(([s]) => Number(s) < 200 || Number(s) >= 300);
  const sock = wrkProblems({ ...r, errors: { ...r.errors, status: 0 } });
  return [sock, bad.length ? `non-2xx: ${bad.map(([s, n]) => `${s}×${n}`).join(', ')}` : ''].filter(Boolean).join('; ');
}

export async function pixel(ctx: BenchContext): Promise<ScenarioResult> {
  const res = newResult('pixel');
  const script = getCountingScript();
  const row = (subject: string, r: WrkResult) => {
    const statuses = Object.keys(r.status).join('/');
    res.rows.push({
      scenario: 'pixel',
      subject,
      throughput: `${fmt.int(okRps(r))} req/s`,
      p50: fmt.ms(r.latency.p50),
      p99: fmt.ms(r.latency.p99),
      notes: [statuses ? `HTTP ${statuses}` : '', problems(r)].filter(Boolean).join('; '),
    });
  };

  const nginx = await ctx.getNginx();
  const ref = await ctx.load('pixel nginx', nginx.url + PIXEL_PATH, script, 'pixel.lua');
  row('nginx', ref);
  res.commands.push(ref.command.replace(/-s \S+/, '-s pixel.lua'));

  if (ctx.opts.referenceOnly) {
    res.ratios.push({ label: 'pixel Beacon/nginx req/s', value: NaN, target: PIXEL_TARGET_RATIO });
    res.notes.push('reference only (--reference-only)');
    return res;
  }
  try {
    const beacon = await ctx.getLoadBeacon();
    const b = await ctx.load('pixel Beacon', beacon.url + PIXEL_PATH, script, 'pixel.lua');
    row('Beacon', b);
    res.commands.push(b.command.replace(/-s \S+/, '-s pixel.lua'));
    res.ratios.push({ label: 'pixel Beacon/nginx req/s', value: okRps(b) / okRps(ref), target: PIXEL_TARGET_RATIO });
    res.ratios.push({
      label: 'pixel Beacon/nginx p99 latency (lower is better)',
      value: b.latency.p99 / ref.latency.p99,
    });
    const p = problems(b);
    if (p) res.notes.push(`Beacon run had ${p}`);
    await pacedAtHalf(ctx, res, beacon.url, okRps(b), row);
  } catch (e) {
    res.ratios.push({ label: 'pixel Beacon/nginx req/s', value: NaN, target: PIXEL_TARGET_RATIO });
    res.error = e instanceof BeaconUnavailable ? e.message : `Beacon: ${(e as Error).message}`;
  }
  return res;
}

/**
 * The latency a site sees below saturation: both servers paced to half of Beacon's maximum
 * (the same rate for nginx, as a reference), p99 compared with the 5 ms target.
 */
async function pacedAtHalf(
  ctx: BenchContext,
  res: ScenarioResult,
  beaconUrl: string,
  beaconMaxRps: number,
  row: (subject: string, r: WrkResult) => void,
): Promise<void> {
  const rate = beaconMaxRps / 2;
  const script = pacedGetCountingScript(rate, ctx.opts.connections);
  const nginx = await ctx.getNginx();
  const ref = await ctx.load('pixel nginx at half rate', nginx.url + PIXEL_PATH, script, 'pixel-half.lua');
  row(`nginx, paced to ${fmt.int(rate)} req/s`, ref);
  const b = await ctx.load('pixel Beacon at half rate', beaconUrl + PIXEL_PATH, script, 'pixel-half.lua');
  row(`Beacon, paced to ${fmt.int(rate)} req/s (half its max)`, b);
  res.commands.push(b.command.replace(/-s \S+/, '-s pixel-half.lua'));
  res.ratios.push({
    label: 'pixel Beacon p99 at half its max rate',
    value: b.latency.p99,
    kind: 'absolute',
    unit: 'ms',
    target: PIXEL_HALF_RATE_P99_TARGET_MS,
    lowerIsBetter: true,
  });
  res.notes.push(
    `pixel at half rate: each of ${ctx.opts.connections} connections waits ${((ctx.opts.connections * 1000) / rate).toFixed(1)} ms between requests (wrk delay()); latency is timed from each send, closed loop`,
  );
}
