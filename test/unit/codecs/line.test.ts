import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getCodec } from '../../../src/event/codecs/registry.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';

const codec = getCodec('line');

describe('line codec', () => {
  test('writes the Pushtech format: type, meta and props separated by single spaces', () => {
    const event: TrackedEvent = {
      id: 'abc',
      type: 'app_open',
      ts: 1510826008003,
      ip: 'ffffac110001',
      props: { deviceid: 'abcdf', ts: '123456', referrer: 'website' },
      meta: { country: 'XX', city: 'XX' },
    };
    assert.equal(
      codec.encode(event).toString('utf8'),
      'app_open id=abc&ts=1510826008003&ip=ffffac110001&country=XX&city=XX deviceid=abcdf&ts=123456&referrer=website',
    );
  });

  test('URL-encodes values and writes nested values as JSON', () => {
    const event: TrackedEvent = {
      id: 'i',
      type: 'search',
      ts: 1,
      props: { q: 'a b&c=d\nx', filters: { tag: ['x', 'y'] } },
      meta: {},
    };
    const line = codec.encode(event).toString('utf8');
    assert.equal(line, `search id=i&ts=1 q=a%20b%26c%3Dd%0Ax&filters=${encodeURIComponent('{"tag":["x","y"]}')}`);
    assert.equal(line.split(' ').length, 3);
  });

  test('keeps a meta key that clashes with an envelope field apart as meta.<key>', () => {
    const event: TrackedEvent = {
      id: 'i',
      type: 't',
      ts: 1,
      ua: 'Mozilla/5.0',
      props: {},
      meta: { ua: { browser: 'Firefox' } },
    };
    const line = codec.encode(event).toString('utf8');
    assert.match(line, /&ua=Mozilla%2F5\.0&meta\.ua=/);
    assert.deepEqual(codec.decode!(Buffer.from(line)), [event]);
  });

  test('round-trips events whose scalar values are strings, plus numbers, flags and nested values', () => {
    const events: TrackedEvent[] = [
      {
        id: 'a',
        type: 'page view',
        ts: 10,
        clientTs: 9,
        sessionId: 's',
        url: 'https://x.example/?a=1&b=2',
        props: { path: '/x y', list: [1, 'two'] },
        meta: { bot: true, geo: { country: 'NL' } },
      },
      { id: 'b', type: 'empty', ts: 11, props: {}, meta: {} },
    ];
    const payload = Buffer.from(events.map((e) => codec.encode(e).toString('utf8')).join('\n') + '\n');
    assert.deepEqual(codec.decode!(payload), events);
  });

  test('does not keep the type of a string that looks like a number', () => {
    const [decoded] = codec.decode!(
      codec.encode({ id: 'a', type: 't', ts: 1, props: { zip: '01234', n: '5' }, meta: {} }),
    ) as TrackedEvent[];
    assert.deepEqual(decoded!.props, { zip: '01234', n: 5 });
  });
});
