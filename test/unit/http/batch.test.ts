import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { postJson, receivedCount, rejectedCount, startCollector, type Collector } from './harness.js';

interface BatchAnswer {
  accepted: number;
  rejected: Array<{ index: number; code: string; message: string }>;
}

describe('POST /batch', () => {
  let collector: Collector;
  before(async () => {
    collector = await startCollector();
  });
  after(() => collector.close());

  test('it records a JSON array in one emit call and answers 200 with the count', async () => {
    const calls = collector.recorder.calls.length;
    const answer = await postJson(collector, '/batch', [
      { type: 'a', props: { n: 1 } },
      {
        type: 'b',
        props: { n: 2 },
        partyId: 'p1',
        sessionId: 's1',
        pageViewId: 'v1',
        url: 'https://x.example/',
        referrer: 'https://ref.example/',
      },
    ]);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { accepted: 2, rejected: [] });
    assert.equal(collector.recorder.calls.length, calls + 1);
    const [a, b] = collector.recorder.calls.at(-1)!;
    assert.equal(a!.type, 'a');
    assert.deepEqual(a!.props, { n: 1 });
    assert.equal(b!.partyId, 'p1');
    assert.equal(b!.sessionId, 's1');
    assert.equal(b!.pageViewId, 'v1');
    assert.equal(b!.url, 'https://x.example/');
    assert.equal(b!.referrer, 'https://ref.example/');
    assert.equal(b!.ip, '127.0.0.1');
    assert.equal(b!.meta.source, 'http');
  });

  test('it keeps a client id, makes a UUIDv7 otherwise, and turns a client ts into clientTs', async () => {
    const clientTs = Date.UTC(2024, 0, 2, 3, 4, 5);
    const answer = await postJson(collector, '/batch', [
      { type: 'a', id: 'client-id-1', ts: clientTs },
      { type: 'a', ts: '2024-01-02T03:04:05Z' },
    ]);
    assert.deepEqual(answer.json(), { accepted: 2, rejected: [] });
    const [first, second] = collector.recorder.calls.at(-1)!;
    assert.equal(first!.id, 'client-id-1');
    assert.equal(first!.clientTs, clientTs);
    assert.ok(first!.ts > clientTs, 'ts is the server receive time');
    assert.match(second!.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    assert.equal(second!.clientTs, clientTs);
  });

  test('it marks the events of a POST /batch?resend=1 as resent, beside the event (nothing in meta)', async () => {
    await postJson(collector, '/batch?cs=00000000&resend=1', [{ type: 'a', id: 'resent-1' }]);
    const [resent] = collector.recorder.calls.at(-1)!;
    assert.equal(collector.marks.isResent(resent!), true);
    assert.deepEqual(resent!.meta, { source: 'http' });
    await postJson(collector, '/batch?resend=10', [{ type: 'a', id: 'resent-2' }]);
    assert.equal(collector.marks.isResent(collector.recorder.calls.at(-1)![0]!), false, 'only resend=1');
    await postJson(collector, '/batch', [{ type: 'a', id: 'resent-3' }]);
    assert.equal(collector.marks.isResent(collector.recorder.calls.at(-1)![0]!), false);
  });

  test('it falls back to the Referer header for referrer when an event gives none', async () => {
    await postJson(collector, '/batch', [{ type: 'a' }, { type: 'a', referrer: 'https://given.example/' }], {
      Referer: 'https://header.example/',
    });
    const [first, second] = collector.recorder.calls.at(-1)!;
    assert.equal(first!.referrer, 'https://header.example/');
    assert.equal(second!.referrer, 'https://given.example/');
    assert.equal(first!.url, undefined);
  });

  test('it accepts the valid events and reports each invalid one by index', async () => {
    const before = await rejectedCount(collector, 'BEACON_E_BAD_EVENT');
    const answer = await postJson(collector, '/batch', [
      { type: 'ok' },
      { props: {} },
      { type: 'bad type' },
      'not an object',
      { type: 'ok', id: 'x'.repeat(129) },
      { type: 'ok', props: [1] },
      { type: 'ok', ts: 'yesterday' },
      { type: 'ok', sessionId: 7 },
      { type: 'ok', url: 'u'.repeat(9000) },
      { type: 'ok', props: null, id: null },
    ]);
    assert.equal(answer.status, 200);
    const body = answer.json() as BatchAnswer;
    assert.equal(body.accepted, 2);
    assert.deepEqual(
      body.rejected.map((r) => [r.index, r.code]),
      [
        [1, 'BEACON_E_BAD_EVENT'],
        [2, 'BEACON_E_BAD_TYPE'],
        [3, 'BEACON_E_BAD_EVENT'],
        [4, 'BEACON_E_BAD_EVENT'],
        [5, 'BEACON_E_BAD_EVENT'],
        [6, 'BEACON_E_BAD_EVENT'],
        [7, 'BEACON_E_BAD_EVENT'],
        [8, 'BEACON_E_BAD_EVENT'],
      ],
    );
    for (const r of body.rejected) assert.ok(r.message.length > 0);
    assert.equal(collector.recorder.calls.at(-1)!.length, 2);
    assert.equal(await rejectedCount(collector, 'BEACON_E_BAD_EVENT'), before + 7);
  });

  test('it answers 200 with every event rejected, and emits nothing, when no event is valid', async () => {
    const calls = collector.recorder.calls.length;
    const answer = await postJson(collector, '/batch', [{ nope: 1 }, { type: '' }]);
    assert.equal(answer.status, 200);
    const body = answer.json() as BatchAnswer;
    assert.equal(body.accepted, 0);
    assert.deepEqual(
      body.rejected.map((r) => r.index),
      [0, 1],
    );
    assert.equal(collector.recorder.calls.length, calls);
  });

  test('it answers 200 accepted 0 for an empty array', async () => {
    assert.deepEqual((await postJson(collector, '/batch', [])).json(), { accepted: 0, rejected: [] });
  });

  test('it reads NDJSON sent as application/x-ndjson, rejecting bad lines by index', async () => {
    const body = '{"type":"a","props":{"i":0}}\n\n{"type":"a",\n{"type":"a","props":{"i":2}}\r\n';
    const answer = await collector.send({
      method: 'POST',
      path: '/batch',
      body,
      headers: { 'Content-Type': 'application/x-ndjson' },
    });
    assert.equal(answer.status, 200);
    const result = answer.json() as BatchAnswer;
    assert.equal(result.accepted, 2);
    assert.deepEqual(
      result.rejected.map((r) => [r.index, r.code]),
      [[1, 'BEACON_E_BAD_JSON']],
    );
    assert.deepEqual(
      collector.recorder.calls.at(-1)!.map((e) => e.props),
      [{ i: 0 }, { i: 2 }],
    );
  });

  test('it detects NDJSON sent as application/json or text/plain', async () => {
    for (const type of ['application/json', 'text/plain']) {
      const answer = await collector.send({
        method: 'POST',
        path: '/batch',
        body: '{"type":"a"}\n{"type":"b"}\n',
        headers: { 'Content-Type': type },
      });
      assert.deepEqual(answer.json(), { accepted: 2, rejected: [] }, type);
      assert.deepEqual(
        collector.recorder.calls.at(-1)!.map((e) => e.type),
        ['a', 'b'],
      );
    }
  });

  test('it takes a single (even pretty-printed) JSON object as a batch of one', async () => {
    const answer = await postJson(collector, '/batch', JSON.stringify({ type: 'solo', props: { a: 1 } }, null, 2));
    assert.deepEqual(answer.json(), { accepted: 1, rejected: [] });
    assert.equal(collector.recorder.calls.at(-1)![0]!.type, 'solo');
  });

  test('it accepts a gzip body', async () => {
    const body = gzipSync(JSON.stringify([{ type: 'z' }, { type: 'z' }]));
    const answer = await collector.send({
      method: 'POST',
      path: '/batch',
      body,
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
    });
    assert.deepEqual(answer.json(), { accepted: 2, rejected: [] });
  });

  test('it refuses an unparseable body with 400 BEACON_E_BAD_JSON and emits nothing', async () => {
    const calls = collector.recorder.calls.length;
    for (const body of ['[{"type":"a"},', '', '   ', 'hello']) {
      const answer = await postJson(collector, '/batch', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_BAD_JSON');
    }
    assert.equal(collector.recorder.calls.length, calls);
  });

  test('it refuses an unsupported Content-Type with 415', async () => {
    const answer = await collector.send({
      method: 'POST',
      path: '/batch',
      body: '<xml/>',
      headers: { 'Content-Type': 'application/xml' },
    });
    assert.equal(answer.status, 415);
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_UNSUPPORTED_MEDIA_TYPE');
  });

  test('it counts every event of a batch as received', async () => {
    const before = await receivedCount(collector);
    await postJson(collector, '/batch', [{ type: 'a' }, { type: 'a' }, { bad: true }]);
    assert.equal(await receivedCount(collector), before + 3);
  });
});

describe('batch limits', () => {
  test('it refuses a batch with more than batchEvents events with 413 BEACON_E_BATCH_TOO_LARGE', async () => {
    const collector = await startCollector({ server: { limits: { batchEvents: 3 } } });
    try {
      assert.equal((await postJson(collector, '/batch', [{ type: 'a' }, { type: 'a' }, { type: 'a' }])).status, 200);
      const answer = await postJson(collector, '/batch', [{ type: 'a' }, { type: 'a' }, { type: 'a' }, { type: 'a' }]);
      assert.equal(answer.status, 413);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_BATCH_TOO_LARGE');
      const ndjson = await collector.send({
        method: 'POST',
        path: '/batch',
        body: '{"type":"a"}\n'.repeat(4),
        headers: { 'Content-Type': 'application/x-ndjson' },
      });
      assert.equal(ndjson.status, 413);
      assert.equal(collector.recorder.calls.length, 1);
    } finally {
      await collector.close();
    }
  });

  test('it rejects one event with props too large or too deep and keeps the others', async () => {
    const collector = await startCollector({ server: { limits: { propsBytes: 100, propsDepth: 2 } } });
    try {
      const answer = await postJson(collector, '/batch', [
        { type: 'a', props: { s: 'x'.repeat(200) } },
        { type: 'a', props: { a: { b: {} } } },
        { type: 'a', props: { a: { b: 1 } } },
      ]);
      const body = answer.json() as BatchAnswer;
      assert.equal(body.accepted, 1);
      assert.deepEqual(
        body.rejected.map((r) => [r.index, r.code]),
        [
          [0, 'BEACON_E_PROPS_TOO_LARGE'],
          [1, 'BEACON_E_PROPS_TOO_DEEP'],
        ],
      );
    } finally {
      await collector.close();
    }
  });
});
