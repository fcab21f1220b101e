import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { configSchema } from '../../../src/config/schema.js';
import { JsonScanner, scanJson } from '../../../src/event/jsonScan.js';
import { DEFAULT_JSON_BOUNDS, DEFAULT_LARGE_BODY_BYTES } from '../../../src/sources/http/body.js';

const BOUNDS = { depth: 64, elements: 100_000 };

/** Feeds `text` in chunks of `size` bytes, as the network or zlib would. */
function scanInChunks(text: string, size: number, bounds = BOUNDS) {
  const bytes = Buffer.from(text, 'utf8');
  const scanner = new JsonScanner(bounds);
  let breach;
  for (let i = 0; i < bytes.length && breach === undefined; i += size)
    breach = scanner.feed(bytes.subarray(i, i + size));
  return breach;
}

describe('the JSON scan before the parse', () => {
  test('refuses `[` x 4M then `]` x 4M at the first bracket past the depth, with BEACON_E_JSON_TOO_DEEP', () => {
    const bomb = Buffer.alloc(8 * 1024 * 1024, '[');
    bomb.fill(']', 4 * 1024 * 1024);
    const started = performance.now();
    assert.equal(scanJson(bomb, BOUNDS)?.code, 'BEACON_E_JSON_TOO_DEEP');
    assert.ok(performance.now() - started < 100, 'stops at once');
  });

  test('refuses a 2.8-million-element array [{},{},...] with BEACON_E_JSON_TOO_MANY_ELEMENTS', () => {
    const array = `[${Array.from({ length: 2_800_000 }, () => '{}').join(',')}]`;
    assert.equal(scanJson(array, BOUNDS)?.code, 'BEACON_E_JSON_TOO_MANY_ELEMENTS');
  });

  test('counts the events of a top-level array or an NDJSON body against batchEvents', () => {
    const events = (n: number) => Array.from({ length: n }, (_, i) => `{"type":"t","props":{"list":[1,2,3],"i":${i}}}`);
    assert.equal(scanJson(`[${events(1000).join(',')}]`, { ...BOUNDS, batchEvents: 1000 }), undefined);
    assert.equal(
      scanJson(`[${events(1001).join(',')}]`, { ...BOUNDS, batchEvents: 1000 })?.code,
      'BEACON_E_BATCH_TOO_LARGE',
    );
    assert.equal(scanJson(events(3).join('\n'), { ...BOUNDS, batchEvents: 3 }), undefined);
    assert.equal(scanJson(events(4).join('\n'), { ...BOUNDS, batchEvents: 3 })?.code, 'BEACON_E_BATCH_TOO_LARGE');
    // Arrays inside an event are not events.
    assert.equal(
      scanJson(`{"type":"t","props":{"ids":[${'1,'.repeat(5000)}1]}}`, { ...BOUNDS, batchEvents: 1 }),
      undefined,
    );
  });

  test('ignores brackets, commas and escaped quotes inside strings', () => {
    const text = JSON.stringify({ s: '['.repeat(1000) + '\\"' + ','.repeat(1000) + '"\\\\', t: ['a"b', 'c\\'] });
    assert.equal(scanJson(text, { depth: 2, elements: 5 }), undefined);
  });

  test('keeps its state across chunk boundaries, one byte at a time included', () => {
    const text = JSON.stringify({ a: 'x\\"[[[[', b: [[['\\\\']]], c: '"' });
    for (const size of [1, 2, 3, 7]) {
      assert.equal(scanInChunks(text, size, { depth: 4, elements: 7 }), undefined, `chunks of ${size}`);
      assert.equal(
        scanInChunks(text, size, { depth: 4, elements: 6 })?.code,
        'BEACON_E_JSON_TOO_MANY_ELEMENTS',
        `chunks of ${size}`,
      );
      assert.equal(
        scanInChunks(text, size, { depth: 3, elements: 7 })?.code,
        'BEACON_E_JSON_TOO_DEEP',
        `chunks of ${size}`,
      );
    }
  });

  test('measures depth and elements exactly as the parsed value has them', () => {
    const depthOf = (v: unknown): number =>
      typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0;
    const elementsOf = (v: unknown): number =>
      typeof v === 'object' && v !== null ? Object.values(v).reduce((n: number, c) => n + 1 + elementsOf(c), 0) : 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 9 }), (value, chunk) => {
        const text = JSON.stringify(value);
        const depth = depthOf(value);
        const elements = elementsOf(value) + 1;
        if (depth > 0)
          assert.equal(scanInChunks(text, chunk, { depth: depth - 1, elements: 1e9 })?.code, 'BEACON_E_JSON_TOO_DEEP');
        assert.equal(scanInChunks(text, chunk, { depth: Math.max(depth, 1), elements }), undefined);
        if (typeof value === 'object' && value !== null)
          assert.equal(
            scanInChunks(text, chunk, { depth: 100, elements: elements - 1 })?.code,
            'BEACON_E_JSON_TOO_MANY_ELEMENTS',
          );
      }),
      { numRuns: 300 },
    );
  });

  test('uses the same defaults as the config schema', () => {
    const limits = configSchema.parse({}).server.limits;
    assert.deepEqual(DEFAULT_JSON_BOUNDS, { depth: limits.jsonDepth, elements: limits.jsonElements });
    assert.equal(DEFAULT_LARGE_BODY_BYTES, limits.largeBodyBytes);
  });
});
