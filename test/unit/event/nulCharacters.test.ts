import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { appendEnriched, createEnrichChain } from '../../../src/enrich/chain.js';
import { replaceNulCharacters } from '../../../src/event/nulCharacters.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { PayloadDecoder } from '../../../src/sources/decodePayload.js';

const limits = configSchema.parse({}).server.limits;

describe('the U+0000 intake rule', () => {
  test('replaces every NUL in ids, fields, props and meta, keys included, and counts them in meta', () => {
    const event: TrackedEvent = {
      id: 'id\u0000',
      type: 'page',
      ts: 1,
      partyId: '\u0000p\u0000',
      url: 'https://x.example/\u0000',
      props: { 'k\u0000': 'v', list: ['a\u0000', { deep: ['\u0000'] }], n: 3, ok: 'plain' },
      meta: { source: 'segment', context: { 'a\u0000b': { c: 'd\u0000' } } },
    };
    assert.equal(replaceNulCharacters(event), 9);
    assert.deepEqual(event, {
      id: 'id\uFFFD',
      type: 'page',
      ts: 1,
      partyId: '\uFFFDp\uFFFD',
      url: 'https://x.example/\uFFFD',
      props: { list: ['a\uFFFD', { deep: ['\uFFFD'] }], n: 3, ok: 'plain', 'k\uFFFD': 'v' },
      meta: { source: 'segment', context: { 'a\uFFFDb': { c: 'd\uFFFD' } }, nulReplaced: 9 },
    });
  });

  test('leaves an event without NUL untouched, and loses no value when a renamed key is taken', () => {
    const clean: TrackedEvent = { id: 'a', type: 't', ts: 1, props: { x: 'y' }, meta: {} };
    assert.equal(replaceNulCharacters(clean), 0);
    assert.deepEqual(clean, { id: 'a', type: 't', ts: 1, props: { x: 'y' }, meta: {} });
    const clash: TrackedEvent = { id: 'b', type: 't', ts: 1, props: { 'k\uFFFD': 1, 'k\u0000': 2 }, meta: {} };
    replaceNulCharacters(clash);
    assert.deepEqual(clash.props, { 'k\uFFFD': 1, 'k\uFFFD\uFFFD': 2 });
  });

  test('walks nesting of any depth without recursion', () => {
    let deep: unknown = '\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const event: TrackedEvent = { id: 'c', type: 't', ts: 1, props: { deep }, meta: {} };
    assert.equal(replaceNulCharacters(event), 1);
  });

  test('the enrichment chain applies it to every event, whatever steps are on: a queue source message as a /batch element', async () => {
    // A queue source decodes as the collector does and appends through the same chain (src/runtime/queueSources.ts).
    const decoded = new PayloadDecoder('orders', 'json', limits).decode(
      Buffer.from(JSON.stringify({ type: 'order', id: 'q\u0000', props: { note: 'a\u0000' } })),
    );
    assert.equal(decoded.events.length, 1);
    for (const enrich of [
      {},
      {
        ua: { enabled: false },
        bots: { enabled: false },
        geo: { enabled: false },
        ip: { anonymize: 'none' },
        duplicates: { enabled: false },
        clockSkew: false,
      },
    ]) {
      const chain = createEnrichChain(configSchema.parse({ enrich }).enrich);
      const appended: TrackedEvent[] = [];
      const events = structuredClone(decoded.events);
      await appendEnriched(chain, events, async (kept) => void appended.push(...kept));
      assert.equal(appended.length, 1);
      assert.deepEqual(
        [appended[0]!.id, appended[0]!.props.note, appended[0]!.meta.nulReplaced],
        ['q\uFFFD', 'a\uFFFD', 2],
      );
    }
  });
});
