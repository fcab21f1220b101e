/**
 * Reads each sink's delivered count and lag from a running Beacon: GET /api/v1/status
 * (`{ sinks: [{ name, lagEvents, delivered }] }`), falling back to /metrics
 * (`beacon_sink_delivered_total{sink=".."}`, `beacon_sink_lag_events{sink=".."}`).
 */
import { httpGet } from './proc.js';

export interface SinkState {
  delivered: number;
  /** NaN when the server does not say. */
  lag: number;
}

export type Progress = Map<string, SinkState>;

let preferMetrics = false;

export async function readProgress(baseUrl: string): Promise<Progress> {
  if (!preferMetrics) {
    try {
      const res = await httpGet(`${baseUrl}/api/v1/status`, 3000);
      if (res.status === 200) {
        const j = JSON.parse(res.body) as { sinks?: Array<{ name: string; lagEvents?: number; delivered?: number }> };
        if (Array.isArray(j.sinks) && j.sinks.every((s) => typeof s.delivered === 'number')) {
          return new Map(
            j.sinks.map((s) => [
              s.name,
              { delivered: s.delivered!, lag: typeof s.lagEvents === 'number' ? s.lagEvents : NaN },
            ]),
          );
        }
      }
    } catch {
      /* fall through to /metrics */
    }
    preferMetrics = true;
  }
  const res = await httpGet(`${baseUrl}/metrics`, 3000);
  if (res.status !== 200)
    throw new Error(`neither /api/v1/status nor /metrics answered usefully (/metrics: HTTP ${res.status})`);
  return parseMetrics(res.body);
}

export function parseMetrics(text: string): Progress {
  const out: Progress = new Map();
  const get = (name: string) => out.get(name) ?? (out.set(name, { delivered: 0, lag: NaN }), out.get(name)!);
  // Several processes may report the same series (one per worker) if not aggregated; sum them.
  const seenLag = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^(beacon_sink_delivered_total|beacon_sink_lag_events)\{([^}]*)\}\s+([-+\d.eE]+|NaN)/.exec(line);
    if (!m) continue;
    const sink = /(?:^|,)sink="([^"]*)"/.exec(m[2]!)?.[1];
    if (sink === undefined) continue;
    const v = Number(m[3]);
    const s = get(sink);
    if (m[1] === 'beacon_sink_delivered_total') s.delivered += v;
    else {
      s.lag = seenLag.has(sink) ? s.lag + v : v;
      seenLag.add(sink);
    }
  }
  return out;
}
