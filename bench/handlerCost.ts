/**
 * The collector's JavaScript cost per request, in process and without a socket:
 * `node --import tsx bench/handlerCost.ts [--requests 100000] [--rounds 3] [--only bare|pixel|batch]`.
 *
 * Drives the real request handler (src/sources/http/collector.ts) with the default config:
 * identity cookies (a new visitor on every request, as wrk is: no cookie sent back), every
 * enrichment step (src/enrich/chain.ts), and the log's record encoding (`encodeBatch`: the
 * json codec's text and its CRC), for `GET /t/pageview?k=v` and `POST /batch` with 20 events
 * (bench/scenarios/batch.ts's body). What it leaves out is what no code here can make cheaper:
 * the sockets, node's HTTP parser, the log's writev and fdatasync. `bare` is the same loop
 * answering 204 with nothing else, the floor of this harness. Under `node --cpu-prof` the
 * profile holds nothing but this path. Standalone, like bench/enrichCost.ts.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import pino from 'pino';
import { configSchema } from '../src/config/schema.js';
import { appendEnriched, createEnrichChain } from '../src/enrich/chain.js';
import { createIdentityIssuer } from '../src/enrich/identity/identity.js';
import type { TrackedEvent } from '../src/event/trackedEvent.js';
import { encodeBatch } from '../src/log/local/recordFormat.js';
import { createMetrics } from '../src/ops/metrics.js';
import { createRequestHandlers } from '../src/sources/http/collector.js';
import { batchBody } from './scenarios/batch.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const REQUESTS = flag('--requests', 100_000);
const ROUNDS = flag('--rounds', 3);
const BATCH = 20;
const BODY = Buffer.from(batchBody(BATCH));

const config = configSchema.parse({ sinks: [] });
const metrics = createMetrics();
const logger = pino({ level: 'silent' });
const chain = createEnrichChain(config.enrich, { metrics, logger });
let encodedBytes = 0;
const identity = createIdentityIssuer(config.enrich.identity, {
  server: config.server,
  saltDir: '/nonexistent',
  metrics,
  logger,
});
const { onRequest } = createRequestHandlers(
  {
    config: config.server,
    emit: async (events: TrackedEvent[]) => {
      await appendEnriched(chain, events, async (kept) => {
        encodedBytes += encodeBatch(kept).buf.length;
      });
    },
    metrics,
    logger,
    browser: identity ? { identity } : {},
  },
  { closeConnections: false },
);

/** A socket that is never connected: node's objects need one; nothing is written to it. From 127.0.0.1, as wrk's. */
function fakeSocket(): Socket {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: '127.0.0.1' });
  return socket;
}

function request(n: number, method: string, url: string, headers: Record<string, string>, body?: Buffer) {
  const req = new IncomingMessage(fakeSocket());
  req.method = method;
  req.url = url;
  req.headers = headers;
  if (body !== undefined) {
    req.push(body);
    req.push(null);
  } else req.push(null);
  req.complete = true;
  const res = new ServerResponse(req);
  const done = new Promise<number>((resolve) => {
    const end = res.end.bind(res);
    res.end = ((...args: Parameters<typeof res.end>) => {
      const out = end(...args);
      resolve(res.statusCode);
      return out;
    }) as typeof res.end;
  });
  return { req, res, done };
}

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const pixelHeaders = (n: number) => ({
  host: '127.0.0.1:8290',
  'user-agent': UA,
  referer: `https://example.com/docs/page-${n % 97}`,
});
const batchHeaders = (n: number) => ({
  ...pixelHeaders(n),
  'content-type': 'application/json',
  'content-length': String(BODY.length),
});

async function run(kind: 'bare' | 'pixel' | 'batch', count: number): Promise<number> {
  const started = process.cpuUsage();
  for (let n = 0; n < count; n++) {
    const { req, res, done } =
      kind === 'batch'
        ? request(n, 'POST', '/batch', batchHeaders(n), BODY)
        : request(n, 'GET', '/t/pageview?k=v', pixelHeaders(n));
    if (kind === 'bare') {
      res.writeHead(204);
      res.end();
    } else onRequest(req, res);
    const status = await done;
    if (status >= 300) throw new Error(`${kind} answered ${status}`);
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / count;
}

console.log(`node ${process.version}; CPU µs per request (batch: per event too), ${ROUNDS} rounds`);
await run('pixel', 20_000);
await run('batch', 2_000);
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
for (let round = 0; round < ROUNDS; round++) {
  const bare = ONLY === undefined || ONLY === 'bare' ? await run('bare', REQUESTS) : NaN;
  const pixel = ONLY === undefined || ONLY === 'pixel' ? await run('pixel', REQUESTS) : NaN;
  const batch = ONLY === undefined || ONLY === 'batch' ? await run('batch', REQUESTS / 10) : NaN;
  console.log(
    `bare ${bare.toFixed(2)}  pixel ${pixel.toFixed(2)}  batch×${BATCH} ${batch.toFixed(1)} (${(batch / BATCH).toFixed(2)} per event)`,
  );
}
if (encodedBytes === 0) throw new Error('nothing reached the log encoding');
