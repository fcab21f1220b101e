import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpConfigSchema } from '../../../src/sinks/http/index.js';
import { HttpSink } from '../../../src/sinks/http/httpSink.js';
import type { SinkError } from '../../../src/sinks/sink.js';
import { systemClock } from '../../../src/ops/clock.js';

let answer: (res: ServerResponse) => void = (res) => res.end();
let lastHeaders: Record<string, unknown> = {};
const server = createServer((req, res) => {
  lastHeaders = req.headers;
  req.resume();
  req.on('end', () => answer(res));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const port = (server.address() as AddressInfo).port;
after(() => server.close());

const event = { id: 'a', type: 't', ts: 1, props: {}, meta: {} };

async function attempt(extra: Record<string, unknown> = {}, url = `http://127.0.0.1:${port}/in`): Promise<SinkError | undefined> {
  const sink = new HttpSink(httpConfigSchema.parse({ name: 'h', type: 'http', url, ...extra }), { clock: systemClock });
  await sink.open();
  try {
    await sink.deliver([event, event]);
    return undefined;
  } catch (err) {
    return err as SinkError;
  } finally {
    await sink.close();
  }
}

describe('http sink answers', () => {
  test('treats a 2xx as delivered and sends the configured headers', async () => {
    answer = (res) => res.writeHead(204).end();
    assert.equal(await attempt({ headers: { authorization: 'Bearer t' } }), undefined);
    assert.equal(lastHeaders.authorization, 'Bearer t');
    assert.equal(lastHeaders['content-type'], 'application/json');
  });

  test('retries a 503 after the Retry-After the server asks for', async () => {
    answer = (res) => res.writeHead(503, { 'retry-after': '3' }).end('busy');
    const err = await attempt();
    assert.equal(err?.kind, 'retry');
    assert.equal(err?.retryAfterMs, 3000);
    assert.equal(err?.errorType, 'http_503');
  });

  test('retries 408 and 429', async () => {
    for (const status of [408, 429]) {
      answer = (res) => res.writeHead(status).end();
      assert.equal((await attempt())?.kind, 'retry');
    }
  });

  test('rejects a 400 with the body as the reason', async () => {
    answer = (res) => res.writeHead(400).end('field x is required');
    const err = await attempt();
    assert.equal(err?.kind, 'reject');
    assert.equal(err?.message, 'HTTP 400: field x is required');
  });

  test('stops on 401 and 403, since every event would fail the same way', async () => {
    for (const status of [401, 403]) {
      answer = (res) => res.writeHead(status).end();
      assert.equal((await attempt())?.kind, 'fatal');
    }
  });

  test('names the refused events when a 2xx body lists them as Beacon /batch does', async () => {
    answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: 1, rejected: [{ index: 1, code: 'BEACON_E_BAD_TYPE', message: 'bad type' }] }));
    const err = await attempt();
    assert.equal(err?.kind, 'reject');
    assert.deepEqual(err?.rejected, [{ index: 1, reason: 'BEACON_E_BAD_TYPE: bad type' }]);
  });

  test('asks for a reconnect when the connection is refused', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const err = await attempt({}, `http://127.0.0.1:${closedPort}/in`);
    assert.equal(err?.kind, 'reconnect');
    assert.equal(err?.errorType, 'econnrefused');
  });

  test('retries when the server does not answer within timeoutMs', async () => {
    answer = () => {};
    const err = await attempt({ timeoutMs: 100 });
    assert.equal(err?.kind, 'retry');
  });
});
