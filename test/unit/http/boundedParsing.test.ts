import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { adminFallback } from '../../../src/api/nodeAdapter.js';
import { configSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { createHttpServer, type BeaconHttpServer } from '../../../src/sources/http/index.js';
import { createRecordingEmit, type RecordingEmit } from '../../support/recordingEmit.js';
import { waitUntil } from '../../support/waitFor.js';
import { metricValue, send, type Answer } from './harness.js';

/**
 * Issue 12, finding 2: JSON bodies are bounded before they are parsed, on every path (/batch,
 * POST /t/<type>, the Segment API, the admin API), and large bodies are read a few at a time.
 * Finding 6: node's own refusals carry a coded body; an admin POST over 1 MiB is a coded 413.
 */
const KEY = 'wk_bounded_0123456789';

/** `[` x 4M then `]` x 4M, gzipped: about 8 KB on the wire, 8 MiB inflated (the issue's shape). */
export function bracketBomb(): Buffer {
  const text = Buffer.alloc(8 * 1024 * 1024, '[');
  text.fill(']', 4 * 1024 * 1024);
  return gzipSync(text, { level: 9 });
}

/** `[{},{},...]` with 2.8 million elements, gzipped; `wrap` puts it under a key, as a Segment batch. */
export function manyElements(wrap?: string): Buffer {
  const array = `[${'{},'.repeat(2_800_000 - 1)}{}]`;
  return gzipSync(wrap === undefined ? array : `{"${wrap}":${array}}`, { level: 9 });
}

interface Server {
  port: number;
  recorder: RecordingEmit;
  metrics: Metrics;
  http: BeaconHttpServer;
}

async function startServer(server: Record<string, unknown> = {}): Promise<Server> {
  const config = configSchema.parse({ server, segment: { enabled: true, writeKeys: [KEY] } });
  const recorder = createRecordingEmit();
  const metrics = createMetrics();
  const admin = adminFallback(
    async (req) => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bytes: req.body?.length ?? 0 }),
    }),
    async () => false,
  );
  const http = createHttpServer({
    config: config.server,
    emit: recorder.emit,
    metrics,
    logger: silentLogger,
    segment: config.segment,
    fallback: admin,
  });
  const { port } = await http.listen(0, '127.0.0.1');
  return { port, recorder, metrics, http };
}

const gzipped = { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' };
const basic = { Authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` };
const codeOf = (answer: Answer) => (answer.json() as { code?: string }).code;

/** Writes raw bytes on a new connection and resolves with everything the server sent back. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(answer) : reject(err)));
    socket.write(request);
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

function bodyOf(rawAnswer: string): { code?: string } {
  return JSON.parse(rawAnswer.slice(rawAnswer.indexOf('\r\n\r\n') + 4)) as { code?: string };
}

describe('JSON bodies are bounded before they are parsed', () => {
  let s: Server;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    s.recorder.release();
    await s.http.drain(1000);
  });

  test('an 8 KB gzip body inflating to [ x 4M then ] x 4M on /batch is refused 400 BEACON_E_JSON_TOO_DEEP', async () => {
    const bomb = bracketBomb();
    assert.ok(bomb.length < 16 * 1024, `the bomb is ${bomb.length} bytes`);
    const answer = await send(s.port, { method: 'POST', path: '/batch', headers: gzipped, body: bomb });
    assert.equal(answer.status, 400);
    assert.equal(codeOf(answer), 'BEACON_E_JSON_TOO_DEEP');
  });

  test('the same bomb on POST /t/<type> and on /v1/batch is refused the same way', async () => {
    const single = await send(s.port, { method: 'POST', path: '/t/page', headers: gzipped, body: bracketBomb() });
    assert.equal(codeOf(single), 'BEACON_E_JSON_TOO_DEEP');
    const segment = await send(s.port, {
      method: 'POST',
      path: '/v1/batch',
      headers: { ...gzipped, ...basic },
      body: bracketBomb(),
    });
    assert.equal(segment.status, 400);
    assert.equal(codeOf(segment), 'BEACON_E_JSON_TOO_DEEP');
  });

  test('a 2.8-million-element array on /batch is refused 413 BEACON_E_BATCH_TOO_LARGE before it is parsed', async () => {
    const answer = await send(s.port, { method: 'POST', path: '/batch', headers: gzipped, body: manyElements() });
    assert.equal(answer.status, 413);
    assert.equal(codeOf(answer), 'BEACON_E_BATCH_TOO_LARGE');
    assert.equal(
      (await metricValue(s.metrics.eventsRejected, { source: 'http', code: 'BEACON_E_BATCH_TOO_LARGE' })) >= 1,
      true,
    );
  });

  test('a 2.8-million-element Segment batch on /v1/batch is refused 413 BEACON_E_JSON_TOO_MANY_ELEMENTS', async () => {
    const answer = await send(s.port, {
      method: 'POST',
      path: '/v1/batch',
      headers: { ...gzipped, ...basic },
      body: manyElements('batch'),
    });
    assert.equal(answer.status, 413);
    assert.equal(codeOf(answer), 'BEACON_E_JSON_TOO_MANY_ELEMENTS');
    assert.equal(
      await metricValue(s.metrics.eventsRejected, { source: 'segment', code: 'BEACON_E_JSON_TOO_MANY_ELEMENTS' }),
      1,
    );
  });

  test('an uncompressed body is refused at the chunk that crosses the depth, before the rest arrives', async () => {
    const answer = await send(s.port, {
      method: 'POST',
      path: '/batch',
      headers: { 'Content-Type': 'application/json' },
      body: '['.repeat(500_000),
    });
    assert.equal(codeOf(answer), 'BEACON_E_JSON_TOO_DEEP');
  });

  test('what real SDKs send still goes through: a 500 KB Segment batch and a 1000-event /batch', async () => {
    const before = s.recorder.events.length;
    const message = (i: number) => ({
      type: 'track',
      event: 'Order Completed',
      messageId: `m-${i}`,
      userId: 'u1',
      properties: { i, note: 'x'.repeat(900), nested: { a: [1, 2, { b: 3 }] } },
      context: { library: { name: 'analytics-node', version: '1' } },
    });
    const segmentBody = JSON.stringify({ batch: Array.from({ length: 480 }, (_, i) => message(i)) });
    assert.ok(segmentBody.length > 480_000 && segmentBody.length < 1024 * 1024, `${segmentBody.length} bytes`);
    const segment = await send(s.port, {
      method: 'POST',
      path: '/v1/batch',
      headers: { 'Content-Type': 'application/json', ...basic },
      body: segmentBody,
    });
    assert.equal(segment.status, 200, segment.text);
    const batch = JSON.stringify(
      Array.from({ length: 1000 }, (_, i) => ({ type: 'view', props: { i, tags: ['a', 'b'] } })),
    );
    const answer = await send(s.port, {
      method: 'POST',
      path: '/batch',
      headers: { 'Content-Type': 'application/json' },
      body: batch,
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(s.recorder.events.length - before, 1480);
  });
});

describe('large bodies are read a few at a time', () => {
  test('one more large body than server.limits.largeBodiesAtOnce is answered 503 BEACON_E_BUSY with Retry-After, and the slot comes back after the answer', async () => {
    const s = await startServer({ limits: { largeBodiesAtOnce: 1, largeBodyBytes: '1KiB' } });
    try {
      const body = JSON.stringify(
        Array.from({ length: 40 }, (_, i) => ({ type: 'view', props: { i, pad: 'p'.repeat(100) } })),
      );
      // The first large body: headers and half of it, then it waits holding the only slot.
      const socket = connect(s.port, '127.0.0.1');
      let firstAnswer = '';
      socket.on('data', (d: Buffer) => (firstAnswer += d.toString('latin1')));
      const half = body.length >> 1;
      // `Expect: 100-continue` makes the server say when it has taken the request (and so the
      // slot): a fixed pause could end before a loaded server read the headers, and the second
      // body then took the slot instead.
      socket.write(
        `POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nExpect: 100-continue\r\n\r\n${body.slice(0, half)}`,
      );
      await waitUntil(
        () => `the server to take the first body (received so far: ${JSON.stringify(firstAnswer)})`,
        () => firstAnswer.startsWith('HTTP/1.1 100 Continue\r\n\r\n'),
      );

      const second = await send(s.port, {
        method: 'POST',
        path: '/batch',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      assert.equal(second.status, 503);
      assert.equal(codeOf(second), 'BEACON_E_BUSY');
      assert.equal(second.headers['retry-after'], '1');
      // Small bodies never wait for a slot.
      const small = await send(s.port, {
        method: 'POST',
        path: '/batch',
        headers: { 'Content-Type': 'application/json' },
        body: '[{"type":"small"}]',
      });
      assert.equal(small.status, 200);

      const closed = new Promise((r) => socket.on('close', r));
      socket.write(body.slice(half));
      await closed;
      assert.match(firstAnswer, /^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200/);
      const third = await send(s.port, {
        method: 'POST',
        path: '/batch',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      assert.equal(third.status, 200, third.text);
      assert.equal(s.recorder.events.length, 81);
    } finally {
      s.recorder.release();
      await s.http.drain(1000);
    }
  });
});

describe('refusals made outside the collector carry a coded body (issue 12, finding 6)', () => {
  let s: Server;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    s.recorder.release();
    await s.http.drain(1000);
  });

  test('a request node cannot parse is answered 400 BEACON_E_BAD_REQUEST', async () => {
    const answer = await rawExchange(s.port, 'GET /t/x HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    assert.match(answer, /^HTTP\/1.1 400/);
    assert.equal(bodyOf(answer).code, 'BEACON_E_BAD_REQUEST');
  });

  test("headers over node's limit are answered 431 BEACON_E_HEADERS_TOO_LARGE", async () => {
    const answer = await rawExchange(s.port, `GET /t/x?${'a=1&'.repeat(10_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(answer, /^HTTP\/1.1 431/);
    assert.equal(bodyOf(answer).code, 'BEACON_E_HEADERS_TOO_LARGE');
  });

  test('an Expect other than 100-continue is answered 417 BEACON_E_EXPECTATION_FAILED', async () => {
    const answer = await send(s.port, {
      method: 'POST',
      path: '/batch',
      headers: { 'Content-Type': 'application/json', Expect: 'something-else' },
      body: '[]',
    });
    assert.equal(answer.status, 417);
    assert.equal(codeOf(answer), 'BEACON_E_EXPECTATION_FAILED');
  });

  test('a POST over 1 MiB to an admin path is answered 413 BEACON_E_BODY_TOO_LARGE, declared or chunked', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 'a');
    const declared = await send(s.port, { method: 'POST', path: '/api/v1/reload', body: big });
    assert.equal(declared.status, 413);
    assert.equal(codeOf(declared), 'BEACON_E_BODY_TOO_LARGE');
    const chunked = await send(s.port, {
      method: 'POST',
      path: '/api/v1/reload',
      headers: { 'Transfer-Encoding': 'chunked' },
      body: big,
    });
    assert.equal(chunked.status, 413);
    assert.equal(codeOf(chunked), 'BEACON_E_BODY_TOO_LARGE');
    const fine = await send(s.port, { method: 'POST', path: '/api/v1/reload', body: '{}' });
    assert.equal(fine.status, 200);
  });
});
