import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { freePort } from './freePort.js';

/** One event as an http sink sent it (the json codec's shape). */
export interface ReceivedEvent {
  id: string;
  type: string;
  ts?: number;
  props?: Record<string, unknown>;
  [field: string]: unknown;
}

export type ReceiverMode =
  /** Answer 200 to every request (events matching `rejectWhen` excepted). */
  | { kind: 'ok' }
  /** Answer every request with this status (e.g. 503) and headers, without keeping the events. */
  | { kind: 'fail'; status: number; headers?: Record<string, string> };

/**
 * A real node:http endpoint for Beacon's http sink. It parses each POST body (a JSON array,
 * one JSON object, or NDJSON; gzip allowed) and records the events it answered 2xx for in
 * `events`; events of a request it refused go to `refused`. It can answer 400 for every
 * request holding an event that matches a predicate, answer a fixed failure status, or be
 * stopped (connections refused) and started again on the same port.
 */
export interface HttpReceiver {
  readonly port: number;
  /** `http://127.0.0.1:<port>/ingest`: the URL to give the sink. */
  readonly url: string;
  /** Every event of every request answered 2xx, in arrival order (duplicates kept). */
  readonly events: ReceivedEvent[];
  /** Events of requests answered with a non-2xx status. */
  readonly refused: ReceivedEvent[];
  /** Requests answered, per status. */
  readonly statusCounts: Map<number, number>;
  /** Distinct ids of `events`. */
  ids(): Set<string>;
  /** Answer 400 (for the whole request) when any event in it matches; `undefined` turns it off. */
  rejectWhen(predicate: ((e: ReceivedEvent) => boolean) | undefined): void;
  setMode(mode: ReceiverMode): void;
  /** Resolves once this many distinct ids were received (or rejects after `timeoutMs`). */
  waitForIds(count: number, timeoutMs: number): Promise<void>;
  readonly listening: boolean;
  /** Closes the listener and cuts every open connection: the sink sees connection refused. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function startHttpReceiver(options: { port?: number; path?: string } = {}): Promise<HttpReceiver> {
  const port = options.port ?? (await freePort());
  const path = options.path ?? '/ingest';
  const events: ReceivedEvent[] = [];
  const refused: ReceivedEvent[] = [];
  const statusCounts = new Map<number, number>();
  const idSet = new Set<string>();
  let predicate: ((e: ReceivedEvent) => boolean) | undefined;
  let mode: ReceiverMode = { kind: 'ok' };
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();

  function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    statusCounts.set(status, (statusCounts.get(status) ?? 0) + 1);
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let raw = Buffer.concat(chunks);
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== path)
      return answer(res, 404, { error: 'not found' });
    if (/gzip/i.test(String(req.headers['content-encoding'] ?? ''))) raw = gunzipSync(raw);
    let batch: ReceivedEvent[];
    try {
      batch = parseEvents(raw.toString('utf8'));
    } catch (err) {
      return answer(res, 400, { error: `unparseable body: ${(err as Error).message}` });
    }
    if (mode.kind === 'fail') {
      refused.push(...batch);
      return answer(res, mode.status, { error: 'told to fail' }, mode.headers);
    }
    const bad = predicate ? batch.filter(predicate) : [];
    if (bad.length > 0) {
      refused.push(...batch);
      return answer(res, 400, { error: `${bad.length} bad event(s)`, ids: bad.map((e) => e.id) });
    }
    events.push(...batch);
    for (const e of batch) idSet.add(e.id);
    for (const w of waiters) w();
    answer(res, 200, { ok: batch.length });
  }

  async function start(): Promise<void> {
    if (server) return;
    const srv = createServer((req, res) => {
      handle(req, res).catch((err: Error) => {
        if (!res.headersSent) answer(res, 500, { error: err.message });
      });
    });
    srv.keepAliveTimeout = 5000;
    srv.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    // The port was ours a moment ago (or was ours before `stop()`); retry briefly if the kernel
    // has not released it yet.
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(port, '127.0.0.1', () => {
            srv.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    server = srv;
  }

  async function stop(): Promise<void> {
    const srv = server;
    if (!srv) return;
    server = undefined;
    const closed = new Promise<void>((r) => srv.close(() => r()));
    for (const s of sockets) s.destroy();
    sockets.clear();
    await closed;
  }

  await start();
  return {
    port,
    url: `http://127.0.0.1:${port}${path}`,
    events,
    refused,
    statusCounts,
    ids: () => new Set(idSet),
    rejectWhen: (p) => (predicate = p),
    setMode: (m) => (mode = m),
    waitForIds(count, timeoutMs) {
      if (idSet.size >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (idSet.size >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver got ${idSet.size} distinct ids, expected ${count}, within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    get listening() {
      return server !== undefined;
    },
    stop,
    start,
  };
}

/** A JSON array, a single JSON object, or NDJSON (one object per non-empty line). */
export function parseEvents(text: string): ReceivedEvent[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as ReceivedEvent[];
  const lines = trimmed.split('\n').filter((l) => l.trim() !== '');
  return lines.map((l) => JSON.parse(l) as ReceivedEvent);
}
