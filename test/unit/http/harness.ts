import { request, type Agent, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { configSchema, type ServerConfig } from '../../../src/config/schema.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { ResendMarks } from '../../../src/event/resendMarks.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { createHttpServer, type BeaconHttpServer } from '../../../src/sources/http/index.js';
import type { BrowserIntake } from '../../../src/sources/http/browserIntake.js';
import { createRecordingEmit, type RecordingEmit } from '../../support/recordingEmit.js';

/** A real collector on 127.0.0.1:<free port> with a recording emit and its own metrics registry. */
export interface Collector {
  port: number;
  recorder: RecordingEmit;
  /** Where the collector marks client ids and blind resends (the enrichment chain's, in Beacon). */
  marks: ResendMarks;
  metrics: Metrics;
  http: BeaconHttpServer;
  send(options: SendOptions): Promise<Answer>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Server config as a user writes it (validated and defaulted by the real schema). */
  server?: Record<string, unknown>;
  /** Applied after the schema, e.g. timeouts below the schema's minimum to keep tests fast. */
  overrides?: Partial<ServerConfig>;
  fallback?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /** Identity cookies, the checksum check, /beacon.js (none by default). */
  browser?: BrowserIntake;
}

export async function startCollector(options: StartOptions = {}): Promise<Collector> {
  const config: ServerConfig = { ...configSchema.parse({ server: options.server ?? {} }).server, ...options.overrides };
  const recorder = createRecordingEmit();
  const metrics = createMetrics();
  const marks = new ResendMarks();
  const http = createHttpServer({
    config,
    emit: recorder.emit,
    metrics,
    logger: silentLogger,
    fallback: options.fallback,
    browser: options.browser,
    marks,
  });
  const address = await http.listen(0, '127.0.0.1');
  return {
    port: address.port,
    recorder,
    marks,
    metrics,
    http,
    send: (sendOptions) => send(address.port, sendOptions),
    close: async () => {
      recorder.release();
      await http.drain(1000);
    },
  };
}

export interface SendOptions {
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Defaults to a fresh connection per request. */
  agent?: Agent | false;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): unknown;
  /** Whether the request went over a connection reused from the agent's pool. */
  reusedSocket: boolean;
  /** Local port of the client socket (tells connections apart). */
  localPort: number | undefined;
}

export function send(port: number, options: SendOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text,
            json: () => JSON.parse(text) as unknown,
            reusedSocket: req.reusedSocket,
            localPort: req.socket?.localPort,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POSTs JSON (or any string) with the given content type. */
export function postJson(
  collector: Collector,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return collector.send({
    method: 'POST',
    path,
    body: text,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** The value of a counter or the count of a histogram for the given labels (0 when never touched). */
export async function metricValue(
  metric: {
    get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown>; metricName?: string }> }>;
  },
  labels: Record<string, string> = {},
  metricName?: string,
): Promise<number> {
  const { values } = await metric.get();
  const match = values.find(
    (v) =>
      (metricName === undefined || v.metricName === metricName) &&
      Object.entries(labels).every(([k, val]) => v.labels[k] === val),
  );
  return match?.value ?? 0;
}

export function rejectedCount(collector: Collector, code: string): Promise<number> {
  return metricValue(collector.metrics.eventsRejected, { source: 'http', code });
}

export function receivedCount(collector: Collector): Promise<number> {
  return metricValue(collector.metrics.eventsReceived, { source: 'http' });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
