import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JetStreamApiError } from '@nats-io/jetstream';
import { parseAckSubject } from '../../../src/log/jetstream/ackSubject.js';
import { consumerNameFor, messageIdOf } from '../../../src/log/jetstream/index.js';
import { classifyPublishError } from '../../../src/log/jetstream/publishErrors.js';
import { streamMaxBytes } from '../../../src/log/jetstream/streamSetup.js';

describe('JetStream log parts', () => {
  test('consumer names are valid NATS names and one-to-one over sink names', () => {
    const sinks = ['archive', 'web.hook', 'web_2e_hook', 'web_hook', 'web-hook', 'a.b.c', 'a_b', 'a__b', '_store'];
    const names = sinks.map(consumerNameFor);
    for (const n of names) assert.match(n, /^[A-Za-z0-9_-]+$/, n);
    assert.equal(new Set(names).size, sinks.length, `collision in ${names.join(' ')}`);
    assert.equal(consumerNameFor('archive'), 'archive');
    assert.equal(consumerNameFor('web.hook'), 'web_2e_hook');
  });

  test('reads delivery count, stream sequence, store time and pending from both ack subject forms', () => {
    assert.deepEqual(parseAckSubject('$JS.ACK.beacon-events.archive.2.1234.1200.1795536138139916936.17'), {
      deliveryCount: 2,
      streamSeq: 1234,
      storedAtMs: 1795536138139,
      pending: 17,
    });
    assert.deepEqual(parseAckSubject('$JS.ACK.hub.ACCHASH.beacon-events.archive.1.5.5.1795536138139916936.0.xyz'), {
      deliveryCount: 1,
      streamSeq: 5,
      storedAtMs: 1795536138139,
      pending: 0,
    });
    assert.equal(parseAckSubject('_INBOX.abc.1'), undefined);
    assert.equal(parseAckSubject(undefined), undefined);
  });

  test('the message id is the event id, except for an event Beacon already flagged as a duplicate', () => {
    const event = { id: 'e1', type: 't', ts: 1, props: {}, meta: {} };
    assert.equal(messageIdOf(event), 'e1');
    const flagged = { ...event, meta: { duplicate: true } };
    const a = messageIdOf(flagged);
    const b = messageIdOf(flagged);
    assert.ok(a.startsWith('e1#dup-') && b.startsWith('e1#dup-') && a !== b, `${a} ${b}`);
  });

  test('an id a header cannot carry (spaces, newlines, non-ASCII, a leading ~) is sent hashed, apart from ids used as they are', () => {
    const ids = ['with space', 'line\nbreak', 'caf\u00e9', '~tilde', 'plain-id'];
    const msgIds = ids.map((id) => messageIdOf({ id, type: 't', ts: 1, props: {}, meta: {} }));
    for (const m of msgIds.slice(0, 4)) assert.match(m, /^~[0-9a-f]{64}$/);
    assert.equal(msgIds[4], 'plain-id');
    assert.equal(new Set(msgIds).size, ids.length);
  });

  test('the stream limit sits above log.maxBytes: a tenth more, at least 1 MiB', () => {
    assert.equal(streamMaxBytes(64 * 1024), 64 * 1024 + 1024 * 1024);
    assert.equal(streamMaxBytes(10 * 1024 ** 3), 11 * 1024 ** 3);
  });

  test('a full stream is "full", another stream capturing the subject is "config", the rest is retried', () => {
    const api = (code: number, description: string) =>
      new JetStreamApiError({ code: 503, err_code: code, description });
    assert.equal(classifyPublishError(api(10077, 'maximum bytes exceeded')), 'full');
    assert.equal(classifyPublishError(api(10077, 'maximum messages exceeded')), 'full');
    assert.equal(classifyPublishError(api(10023, 'insufficient resources')), 'full');
    assert.equal(classifyPublishError(api(10060, 'expected stream does not match')), 'config');
    assert.equal(classifyPublishError(api(10077, 'some io error')), 'transient');
    assert.equal(classifyPublishError(api(10008, 'JetStream system temporarily unavailable')), 'transient');
    assert.equal(classifyPublishError(new Error('TIMEOUT')), 'transient');
  });
});
