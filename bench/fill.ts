/**
 * Pre-fills Beacon's log: POST /batch with `perRequest` events, `concurrency` requests in flight
 * on keep-alive connections, until `total` events were acknowledged (HTTP 200). Bounded by
 * `timeoutMs`; throws on any answer other than 200/503.
 */
import { Agent, request } from 'node:http';
import { batchBody } from './scenarios/batch.js';

export interface FillResult {
  events: number;
  seconds: number;
  eventsPerSec: number;
  retried503: number;
}

function post(agent: Agent, url: URL, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('POST /batch timed out after 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function fill(
  baseUrl: string,
  total: number,
  opts: { perRequest?: number; concurrency?: number; timeoutMs?: number; onProgress?: (done: number) => void } = {},
): Promise<FillResult> {
  const perRequest = opts.perRequest ?? 500;
  const concurrency = opts.concurrency ?? 8;
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  const url = new URL('/batch', baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  // A handful of distinct bodies, so events don't all look the same.
  const bodies = Array.from({ length: 16 }, (_, i) => Buffer.from(batchBody(perRequest, i * perRequest)));
  let issued = 0;
  let acked = 0;
  let retried503 = 0;
  let lastReport = Date.now();
  const t0 = process.hrtime.bigint();

  const worker = async (w: number) => {
    for (let k = w; ; k += concurrency) {
      const n = Math.min(perRequest, total - issued);
      if (n <= 0) return;
      issued += n;
      const body = n === perRequest ? bodies[k % bodies.length]! : Buffer.from(batchBody(n, k));
      for (;;) {
        if (Date.now() > deadline) throw new Error(`fill did not finish in time (${acked} of ${total} events acked)`);
        const res = await post(agent, url, body);
        if (res.status === 200) break;
        if (res.status === 503) {
          retried503++;
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        throw new Error(`POST /batch answered ${res.status}: ${res.text.slice(0, 300)}`);
      }
      acked += n;
      if (opts.onProgress && Date.now() - lastReport > 2000) {
        lastReport = Date.now();
        opts.onProgress(acked);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  } finally {
    agent.destroy();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { events: acked, seconds, eventsPerSec: acked / seconds, retried503 };
}
