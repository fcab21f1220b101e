import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { lineCodec } from '../../../src/event/codecs/line.js';
import { PayloadDecoder } from '../../../src/sources/decodePayload.js';

const limits = configSchema.parse({}).server.limits;

describe('queue payloads are bounded before they are parsed (issue 12, finding 2)', () => {
  const decoder = new PayloadDecoder('queue', 'auto', limits);

  test('a message of [ x 4M then ] x 4M is one rejection, BEACON_E_JSON_TOO_DEEP, found without a parse', () => {
    const bytes = Buffer.alloc(8 * 1024 * 1024, '[');
    bytes.fill(']', 4 * 1024 * 1024);
    const started = performance.now();
    const decoded = decoder.decode(bytes);
    assert.ok(performance.now() - started < 100, 'no parse (nor decode to text) of 8 MiB of brackets');
    assert.deepEqual(decoded.events, []);
    assert.deepEqual(
      decoded.rejected.map((r) => r.code),
      ['BEACON_E_JSON_TOO_DEEP'],
    );
    // A source whose client hands over text (Redis) gets the same answer.
    assert.deepEqual(
      decoder.decode(bytes.toString('latin1')).rejected.map((r) => r.code),
      ['BEACON_E_JSON_TOO_DEEP'],
    );
  });

  test('a message holding a 2.8-million-element array is one rejection, BEACON_E_BATCH_TOO_LARGE', () => {
    const decoded = decoder.decode(`[${'{},'.repeat(2_800_000 - 1)}{}]`);
    assert.deepEqual(
      decoded.rejected.map((r) => r.code),
      ['BEACON_E_BATCH_TOO_LARGE'],
    );
    assert.deepEqual(decoded.events, []);
  });

  test('more NDJSON events or line records in one message than server.limits.batchEvents are refused', () => {
    const small = new PayloadDecoder('queue', 'auto', { ...limits, batchEvents: 2 });
    assert.deepEqual(
      small.decode('{"type":"a"}\n{"type":"b"}\n{"type":"c"}').rejected.map((r) => r.code),
      ['BEACON_E_BATCH_TOO_LARGE'],
    );
    assert.deepEqual(
      small.decode('a id=1 \nb id=2 \nc id=3 ').rejected.map((r) => r.code),
      ['BEACON_E_BATCH_TOO_LARGE'],
    );
    assert.equal(small.decode('{"type":"a"}\n{"type":"b"}').events.length, 2);
  });
});

describe('queue events are held to the props limits of /batch', () => {
  test('props over server.limits.propsBytes are refused with BEACON_E_PROPS_TOO_LARGE, in every format; the rest of the message is kept', () => {
    const big = { type: 'queued', id: 'big', props: { pad: 'p'.repeat(limits.propsBytes) } };
    const small = { type: 'queued', id: 'small', props: { n: 1 } };
    // Multi-byte text: within propsBytes in characters, over it in UTF-8 bytes.
    const wide = { type: 'queued', id: 'wide', props: { pad: 'é'.repeat(limits.propsBytes / 2 + 8) } };
    for (const format of ['auto', 'json', 'ndjson'] as const) {
      const decoder = new PayloadDecoder('queue', format, limits);
      const asJson = Buffer.from(JSON.stringify(big));
      assert.deepEqual(
        decoder.decode(asJson).rejected.map((r) => r.code),
        ['BEACON_E_PROPS_TOO_LARGE'],
        format,
      );
      const mixed =
        format === 'json'
          ? JSON.stringify([small, big, wide])
          : [small, big, wide].map((e) => JSON.stringify(e)).join('\n');
      const decoded = decoder.decode(Buffer.from(mixed));
      assert.deepEqual(
        decoded.events.map((e) => e.id),
        ['small'],
        format,
      );
      assert.deepEqual(
        decoded.rejected.map((r) => [r.index, r.code]),
        [
          [1, 'BEACON_E_PROPS_TOO_LARGE'],
          [2, 'BEACON_E_PROPS_TOO_LARGE'],
        ],
        format,
      );
    }
  });
});

describe('the line codec keeps a param named __proto__ as an ordinary key (issue 12, finding 6)', () => {
  test('__proto__ in the meta or props section replaces no prototype', () => {
    const [decoded] = lineCodec.decode!(
      Buffer.from('page id=e1&ts=1&__proto__=%7B%22polluted%22%3A1%7D __proto__=%7B%22x%22%3A1%7D&a=1'),
    ) as Array<{ meta: Record<string, unknown>; props: Record<string, unknown> }>;
    assert.equal(Object.getPrototypeOf(decoded!.meta), Object.prototype);
    assert.equal(Object.getPrototypeOf(decoded!.props), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(decoded!.meta, '__proto__')?.value, { polluted: 1 });
    assert.deepEqual(Object.getOwnPropertyDescriptor(decoded!.props, '__proto__')?.value, { x: 1 });
    assert.equal((decoded!.meta as { polluted?: unknown }).polluted, undefined);
    assert.deepEqual(Object.keys(decoded!.props), ['__proto__', 'a']);
  });

  test('a value nested past the JSON bounds stays a string instead of being parsed', () => {
    const deep = encodeURIComponent('['.repeat(100) + ']'.repeat(100));
    const [decoded] = lineCodec.decode!(Buffer.from(`page id=e1&ts=1 v=${deep}`)) as Array<{
      props: Record<string, unknown>;
    }>;
    assert.equal(typeof decoded!.props.v, 'string');
  });
});
