import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';

/**
 * A bounded load generator for `POST /batch`: `connections` workers, each on its own
 * keep-alive connection, send batches of events with unique client ids until `maxEvents`
 * were sent, `maxDurationMs` passed, or `stop()` was called. It records every id the server
 * acknowledged with a 2xx (minus the indexes it listed as rejected). Connection errors (a
 * killed server), timeouts and non-2xx answers are counted, never thrown.
 */
export interface LoadOptions {
  /** Beacon's base URL, e.g. `http://127.0.0.1:8290`. */
  url: string;
  /** Concurrent keep-alive connections, one request in flight on each (default 4). */
  connections?: number;
  /** Events per request (default 20). */
  batchSize?: number;
  /** Stop after this many events were sent (acknowledged or not). */
  maxEvents: number;
  /** Stop sending after this long. */
  maxDurationMs: number;
  /** Prefix of the generated ids (a random part is added so two loads never share an id). */
  idPrefix?: string;
  /** Event type (default `load`). */
  type?: string;
  /** Props of the n-th event (default `{ n }`). */
  props?: (n: number, id: string) => Record<string, unknown>;
  /** Whole-request timeout (default 5000 ms). */
  requestTimeoutMs?: number;
  /** Pause of a worker after a failed request, so a dead server is not spun on (default 50 ms). */
  errorPauseMs?: number;
  /** Pace the load to about this many events per second across all connections (default: as fast as answered). */
  eventsPerSecond?: number;
  /** When true, a 503 pauses the worker for its Retry-After (capped at 1 s) instead of `errorPauseMs`. */
  honourRetryAfter?: boolean;
  /** Path and query of each request, from its body (default `/batch`), e.g. the tracker's `/batch?cs=<checksum>`. */
  path?: (body: string) => string;
  /** PEM of the CA to trust when `url` is https. */
  ca?: string;
}

export interface ResponseSample {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface LoadResult {
  /** Ids answered 2xx and not listed as rejected, in the order acknowledged. */
  acked: string[];
  /** Events sent (in requests that were at least started). */
  sent: number;
  requests: number;
  /** Requests per HTTP status; `error` counts connection errors and timeouts. */
  statuses: Record<string, number>;
  /** The first answer seen for each non-2xx status. */
  samples: Record<string, ResponseSample>;
  /** Per-event rejections in 2xx answers (`rejected` array), by code. */
  rejectedCodes: Record<string, number>;
  lastError?: string;
  durationMs: number;
}

export interface RunningLoad {
  /** Ids acknowledged so far (live). */
  readonly acked: ReadonlySet<string>;
  /** A snapshot of the counters so far. */
  snapshot(): LoadResult;
  /** Stop sending new requests; in-flight ones finish (or time out). */
  stop(): void;
  /** Resolves when every worker finished. */
  readonly done: Promise<LoadResult>;
}

export function startLoad(options: LoadOptions): RunningLoad {
  const connections = options.connections ?? 4;
  const batchSize = options.batchSize ?? 20;
  const type = options.type ?? 'load';
  const props = options.props ?? ((n: number) => ({ n }));
  const requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  const errorPauseMs = options.errorPauseMs ?? 50;
  const prefix = `${options.idPrefix ?? 'load'}-${randomUUID().slice(0, 8)}`;
  const started = Date.now();
  const deadline = started + options.maxDurationMs;

  const pool = new Pool(options.url, {
    ...(options.ca ? { connect: { ca: options.ca } } : {}),
    connections,
    pipelining: 1,
    keepAliveTimeout: 10_000,
    connectTimeout: Math.min(requestTimeoutMs, 2000),
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
  });
  const acked = new Set<string>();
  const ackedOrder: string[] = [];
  const statuses: Record<string, number> = {};
  const samples: Record<string, ResponseSample> = {};
  const rejectedCodes: Record<string, number> = {};
  let sent = 0;
  let requests = 0;
  let lastError: string | undefined;
  let stopped = false;
  let next = 0;
  let finishedAt: number | undefined;
  const stopController = new AbortController();

  const count = (key: string) => (statuses[key] = (statuses[key] ?? 0) + 1);
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        stopController.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      stopController.signal.addEventListener('abort', onAbort, { once: true });
    });

  function snapshot(): LoadResult {
    return {
      acked: [...ackedOrder],
      sent,
      requests,
      statuses: { ...statuses },
      samples: { ...samples },
      rejectedCodes: { ...rejectedCodes },
      lastError,
      durationMs: (finishedAt ?? Date.now()) - started,
    };
  }

  async function worker(): Promise<void> {
    while (!stopped && Date.now() < deadline && next < options.maxEvents) {
      const size = Math.min(batchSize, options.maxEvents - next);
      const first = next;
      next += size;
      if (options.eventsPerSecond) {
        const due = started + (first / options.eventsPerSecond) * 1000;
        if (due > Date.now()) await sleep(Math.min(due, deadline) - Date.now());
        if (stopped || Date.now() >= deadline) break;
      }
      const ids: string[] = [];
      const batch = [];
      for (let i = 0; i < size; i++) {
        const n = first + i;
        const id = `${prefix}-${n}`;
        ids.push(id);
        batch.push({ type, id, props: props(n, id) });
      }
      sent += size;
      requests++;
      let pause = 0;
      const body = JSON.stringify(batch);
      try {
        const res = await pool.request({
          path: options.path ? options.path(body) : '/batch',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        const text = await res.body.text();
        count(String(res.statusCode));
        if (res.statusCode >= 200 && res.statusCode < 300) {
          let rejected = new Set<number>();
          try {
            const parsed = JSON.parse(text) as { rejected?: { index: number; code: string }[] };
            for (const r of parsed.rejected ?? []) rejectedCodes[r.code] = (rejectedCodes[r.code] ?? 0) + 1;
            rejected = new Set((parsed.rejected ?? []).map((r) => r.index));
          } catch {
            // a 2xx without a parseable body still acknowledges the request
          }
          ids.forEach((id, i) => {
            if (!rejected.has(i) && !acked.has(id)) {
              acked.add(id);
              ackedOrder.push(id);
            }
          });
        } else {
          samples[res.statusCode] ??= { status: res.statusCode, headers: res.headers, body: text };
          pause = errorPauseMs;
          if (options.honourRetryAfter && res.statusCode === 503) {
            const seconds = Number(res.headers['retry-after']);
            if (Number.isFinite(seconds)) pause = Math.min(seconds * 1000, 1000);
          }
        }
      } catch (err) {
        count('error');
        lastError = (err as Error).message;
        pause = errorPauseMs;
      }
      if (pause > 0) await sleep(pause);
    }
  }

  const done = Promise.all(Array.from({ length: connections }, () => worker())).then(async () => {
    finishedAt = Date.now();
    await pool.destroy().catch(() => undefined);
    return snapshot();
  });

  return {
    acked,
    snapshot,
    stop() {
      stopped = true;
      stopController.abort();
    },
    done,
  };
}

/** Runs a load to its limits and returns what happened. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return startLoad(options).done;
}
