import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeLines, getCodec } from '../../../src/event/codecs/registry.js';
import { jsonText, toJsonShape } from '../../../src/event/codecs/json.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { openLocalLog } from '../../../src/log/local/index.js';
import { HEADER_BYTES } from '../../../src/log/local/recordFormat.js';
import { tempDir } from './logTestKit.js';

/**
 * The log stores each event as the json codec's text, and a json sink writes an event read
 * from the log by reusing that text. These tests check that the shortcut never changes what
 * a sink writes: the output is always exactly the codec's encoding of the event it was given.
 */
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function openLog() {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const log = await openLocalLog({
    dir,
    maxBytes: 1 << 30,
    segmentBytes: 1 << 20,
    cursorSyncMs: 10_000,
    retryAfterSeconds: 1,
    retentionIntervalMs: 60_000,
  });
  return { dir, log };
}

const json = getCodec('json');
const canonical = (events: readonly TrackedEvent[]) =>
  events.map((e) => JSON.stringify(toJsonShape(e)) + '\n').join('');

/** Events with keys in any order, optional fields present or not, and awkward strings. */
const anyEvent: fc.Arbitrary<TrackedEvent> = fc
  .record(
    {
      id: fc.string({ minLength: 1 }),
      type: fc.string(),
      ts: fc.integer({ min: 0, max: 2 ** 47 }),
      props: fc.dictionary(fc.string(), fc.jsonValue()),
      meta: fc.dictionary(fc.string(), fc.jsonValue()),
      clientTs: fc.integer({ min: 0, max: 2 ** 47 }),
      sessionId: fc.string(),
      ip: fc.string(),
      ua: fc.string({ unit: 'binary' }),
      url: fc.string(),
      referrer: fc.string(),
    },
    { requiredKeys: ['id', 'type', 'ts', 'props', 'meta'] },
  )
  .chain((e) =>
    fc
      .shuffledSubarray(Object.keys(e), { minLength: Object.keys(e).length })
      .map(
        (order) =>
          Object.fromEntries(order.map((k) => [k, (e as Record<string, unknown>)[k]])) as unknown as TrackedEvent,
      ),
  );

describe('record text and the json codec', () => {
  test('jsonText is the json codec text for events with keys in any order', () => {
    fc.assert(fc.property(anyEvent, (e) => assert.equal(jsonText(e), JSON.stringify(toJsonShape(e)))));
  });

  test('records hold the json codec text of each event', async () => {
    const { dir, log } = await openLog();
    const e: TrackedEvent = {
      meta: { source: 'x' },
      ua: 'é',
      props: { a: [1, { b: null }] },
      ts: 5,
      type: 't',
      id: 'i',
      sessionId: 's',
    };
    await log.append([e]);
    await log.close();
    const seg = (await readdir(join(dir, 'p0'))).find((n) => n.endsWith('.seg'))!;
    const bytes = await readFile(join(dir, 'p0', seg));
    assert.equal(bytes.toString('utf8', HEADER_BYTES), JSON.stringify(toJsonShape(e)));
  });

  test('a json sink writes exactly the codec text of events read from the log, whatever order they were built in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyEvent, { minLength: 1, maxLength: 8 }), async (events) => {
        const { log } = await openLog();
        await log.append(events);
        const cursor = await log.cursor('sink');
        const batch = await cursor.read(100, 0);
        assert.equal(encodeLines(json, batch.events).toString('utf8'), canonical(events));
        await log.close();
      }),
      { numRuns: 25 },
    );
  });

  test('an event changed after the read is encoded from its fields, not from the stale record text', async () => {
    const { log } = await openLog();
    await log.append([{ id: 'a', type: 'view', ts: 1, props: {}, meta: {} }]);
    const cursor = await log.cursor('sink');
    const [read] = (await cursor.read(10, 0)).events;
    const copy = { ...read!, type: 'click' };
    assert.equal(json.encode(copy).toString('utf8'), '{"id":"a","type":"click","ts":1,"props":{},"meta":{}}');
    const extended = Object.assign(read!, { partyId: 'p' });
    assert.equal(
      json.encode(extended).toString('utf8'),
      '{"id":"a","type":"view","ts":1,"props":{},"partyId":"p","meta":{}}',
    );
    await log.close();
  });
});
