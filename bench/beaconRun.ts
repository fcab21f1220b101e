import { httpGet, sleep } from './proc.js';
import type { WrkResult } from './wrk.js';

/** Helpers the standalone CPU benches (hotPath.ts, threadShape.ts) share around one Beacon run. */

/** The 2xx answers of a wrk run (all requests when wrk's script did not count statuses). */
export function okRequests(r: WrkResult): number {
  const counted = Object.entries(r.status);
  if (counted.length === 0) return r.requests;
  return counted.filter(([s]) => Number(s) >= 200 && Number(s) < 300).reduce((a, [, n]) => a + n, 0);
}

/** Polls /api/v1/status until every sink (the internal `_store` included) has no lag. */
export async function lagZero(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const s = JSON.parse((await httpGet(`${url}/api/v1/status`, 5000)).body) as { sinks: { lagEvents: number }[] };
      if (s.sinks.every((x) => x.lagEvents === 0)) return true;
    } catch {
      // busy: ask again
    }
    await sleep(200);
  }
  return false;
}
