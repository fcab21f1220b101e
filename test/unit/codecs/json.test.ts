import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getCodec } from '../../../src/event/codecs/registry.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';

const full: TrackedEvent = {
  meta: { source: 'http', bot: false },
  referrer: 'https://ref.example/',
  props: { path: '/a', n: 1 },
  ts: 1714557600000,
  url: 'https://site.example/a',
  id: '0190f0e2-aaaa-7bbb-8ccc-dddddddddddd',
  ua: 'Mozilla/5.0',
  type: 'page_view',
  ip: '203.0.113.9',
  clientTs: 1714557599000,
  partyId: 'p1',
  sessionId: 's1',
  pageViewId: 'v1',
};

describe('json codec', () => {
  test('writes keys in the documented order whatever order the event has them in', () => {
    const text = getCodec('json').encode(full).toString('utf8');
    assert.deepEqual(Object.keys(JSON.parse(text)), [
      'id',
      'type',
      'ts',
      'props',
      'clientTs',
      'partyId',
      'sessionId',
      'pageViewId',
      'ip',
      'ua',
      'url',
      'referrer',
      'meta',
    ]);
  });

  test('leaves out optional fields that are absent', () => {
    const text = getCodec('json')
      .encode({ id: 'a', type: 't', ts: 1, props: {}, meta: {}, ip: '1.2.3.4' })
      .toString('utf8');
    assert.equal(text, '{"id":"a","type":"t","ts":1,"props":{},"ip":"1.2.3.4","meta":{}}');
  });

  test('decodes what it encodes, one event per line', () => {
    const codec = getCodec('json');
    const second = { ...full, id: 'b', props: { nested: { deep: [1, 2] } } };
    const payload = Buffer.concat([codec.encode(full), Buffer.from('\n'), codec.encode(second), Buffer.from('\n')]);
    assert.deepEqual(codec.decode!(payload), [full, second]);
  });

  test('refuses an unknown codec name with BEACON_E_CONFIG_FIELD', () => {
    assert.throws(() => getCodec('xml'), {
      code: 'BEACON_E_CONFIG_FIELD',
      message: /unknown codec "xml"; expected one of json, line/,
    });
  });
});
