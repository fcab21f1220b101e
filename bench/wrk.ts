/**
 * Runs wrk once, bounded in time, and turns its output into numbers. The figures come from the
 * BENCH_JSON line printed by the Lua done() (bench/wrkScripts.ts); when that line is missing
 * the human-readable output (`--latency`) is parsed instead.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.js';

export const WRK_BIN = 'wrk';

export interface WrkOptions {
  url: string;
  connections: number;
  threads: number;
  durationSec: number;
  /** Lua source; written to `scriptDir`. */
  script: string;
  scriptDir: string;
  scriptName: string;
  timeoutSec?: number;
}

export interface WrkResult {
  requests: number;
  durationSec: number;
  rps: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  /** Milliseconds. */
  latency: { mean: number; p50: number; p90: number; p99: number; p999: number; max: number };
  /** Response status → count, when the script counted them. */
  status: Record<string, number>;
  /** The command as it can be pasted into a shell. */
  command: string;
  raw: string;
}

export function wrkArgs(o: WrkOptions, scriptPath: string): string[] {
  return [
    '-t',
    String(o.threads),
    '-c',
    String(o.connections),
    '-d',
    `${o.durationSec}s`,
    '--timeout',
    `${o.timeoutSec ?? 5}s`,
    '--latency',
    '-s',
    scriptPath,
    o.url,
  ];
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const scriptPath = join(o.scriptDir, o.scriptName);
  writeFileSync(scriptPath, o.script);
  const args = wrkArgs(o, scriptPath);
  const command = [WRK_BIN, ...args].join(' ');
  // wrk stops itself after -d; the kill timer only guards against a hang.
  const res = await run(WRK_BIN, args, (o.durationSec + 30) * 1000);
  if (res.timedOut) throw new Error(`wrk did not finish within ${o.durationSec + 30} s: ${command}`);
  if (res.code !== 0) throw new Error(`wrk exited with ${res.code}: ${command}\n${res.stderr || res.stdout}`);
  const parsed = parseWrkOutput(res.stdout);
  return { ...parsed, command, raw: res.stdout };
}

type Parsed = Omit<WrkResult, 'command' | 'raw'>;

export function parseWrkOutput(out: string): Parsed {
  const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (line) {
    const j = JSON.parse(line.slice('BENCH_JSON '.length)) as {
      requests: number;
      duration_us: number;
      bytes: number;
      errors: Parsed['errors'];
      latency_us: { mean: number; max: number; p50: number; p90: number; p99: number; p999: number };
      status: Record<string, number>;
    };
    const durationSec = j.duration_us / 1e6;
    const ms = (us: number) => us / 1000;
    return {
      requests: j.requests,
      durationSec,
      rps: durationSec > 0 ? j.requests / durationSec : 0,
      bytes: j.bytes,
      errors: j.errors,
      latency: {
        mean: ms(j.latency_us.mean),
        p50: ms(j.latency_us.p50),
        p90: ms(j.latency_us.p90),
        p99: ms(j.latency_us.p99),
        p999: ms(j.latency_us.p999),
        max: ms(j.latency_us.max),
      },
      status: j.status,
    };
  }
  return parseWrkText(out);
}

/** wrk's own text report, e.g. "  Latency Distribution\n     50%  1.20ms" and "Requests/sec: 1234.5". */
export function parseWrkText(out: string): Parsed {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : NaN;
  };
  const toMs = (v: string, unit: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p.replace('.', '\\.')}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const lat = /^\s*Latency\s+([\d.]+)(us|ms|s|m)\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/m.exec(out);
  const reqs = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
  const durationSec = reqs ? toMs(reqs[2]!, reqs[3]!) / 1000 : NaN;
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/);
  const rps = num(/Requests\/sec:\s+([\d.]+)/);
  if (!Number.isFinite(rps)) throw new Error(`could not parse wrk output:\n${out}`);
  return {
    requests: reqs ? Number(reqs[1]) : NaN,
    durationSec,
    rps,
    bytes: NaN,
    errors: {
      connect: errs ? Number(errs[1]) : 0,
      read: errs ? Number(errs[2]) : 0,
      write: errs ? Number(errs[3]) : 0,
      timeout: errs ? Number(errs[4]) : 0,
      status: Number.isFinite(non2xx) ? non2xx : 0,
    },
    latency: {
      mean: lat ? toMs(lat[1]!, lat[2]!) : NaN,
      p50: pct('50'),
      p90: pct('90'),
      p99: pct('99'),
      p999: NaN,
      max: lat ? toMs(lat[3]!, lat[4]!) : NaN,
    },
    status: {},
  };
}

/** Socket errors + bad statuses, as a short text; '' when the run was clean. */
export function wrkProblems(r: WrkResult, okStatus?: number): string {
  const e = r.errors;
  const parts: string[] = [];
  const sock = e.connect + e.read + e.write + e.timeout;
  if (sock > 0) parts.push(`socket errors connect=${e.connect} read=${e.read} write=${e.write} timeout=${e.timeout}`);
  if (e.status > 0) parts.push(`${e.status} responses ≥ 400`);
  if (okStatus !== undefined) {
    const bad = Object.entries(r.status).filter(([s]) => Number(s) !== okStatus);
    if (bad.length) parts.push(`statuses other than ${okStatus}: ${bad.map(([s, n]) => `${s}×${n}`).join(', ')}`);
    if (Object.keys(r.status).length === 0 && r.requests > 0) parts.push('no statuses counted');
  }
  return parts.join('; ');
}
