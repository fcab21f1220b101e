import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appendEnriched, createEnrichChain } from '../../../src/enrich/chain.js';
import { BloomFilter, hashPair, RequestMemory, requestFingerprint } from '../../../src/enrich/requestMemory.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { enrichConfig, httpEvent, UA } from './fixtures.js';

const noIds = { ids: { enabled: false } };

describe('the short-term request memory', () => {
  test('a Bloom filter for 10k items at 1% is wrong on at most 2% of 10k other items, and never misses an added one', () => {
    const filter = new BloomFilter(10_000, 0.01);
    for (let i = 0; i < 10_000; i++) filter.add(...hashPair(`in-${i}`));
    for (let i = 0; i < 10_000; i++) assert.ok(filter.has(...hashPair(`in-${i}`)));
    let wrong = 0;
    for (let i = 0; i < 10_000; i++) if (filter.has(...hashPair(`out-${i}`))) wrong++;
    assert.ok(wrong / 10_000 <= 0.02, `false-positive rate ${wrong / 10_000}`);
  });

  test('the rotating memory keeps its configured rate over both filters, and forgets after 2 x expectedItems', () => {
    const memory = new RequestMemory(5_000, 0.01);
    let wrong = 0;
    for (let i = 0; i < 10_000; i++) if (memory.seen(`k-${i}`)) wrong++;
    assert.ok(wrong / 10_000 <= 0.02, `false-positive rate ${wrong / 10_000}`);
    assert.equal(memory.seen('k-9999'), true, 'a recent item is remembered');
    for (let i = 0; i < 10_001; i++) memory.seen(`later-${i}`);
    assert.equal(memory.seen('k-9999'), false, 'two rotations later it is forgotten');
  });

  test('a repeated request is flagged meta.duplicate and counted; the full IP is hashed, then truncated', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(enrichConfig({ duplicates: noIds }), { metrics });
    const first = httpEvent({ ip: '203.0.113.7', ua: UA.chrome, clientTs: 1 });
    const again = httpEvent({ ip: '203.0.113.7', ua: UA.chrome, clientTs: 1 });
    const neighbour = httpEvent({ ip: '203.0.113.8', ua: UA.chrome, clientTs: 1 });
    chain.settled(chain.run([first]), true);
    chain.run([again, neighbour]);
    assert.equal(first.meta.duplicate, undefined);
    assert.equal(again.meta.duplicate, true);
    assert.equal(neighbour.meta.duplicate, undefined, 'another address in the same /24 is another request');
    assert.equal(again.ip, '203.0.113.0');
    const { values } = await metrics.enrichDuplicates.get();
    assert.deepEqual(
      values.map((v) => [v.labels.tier, v.value]),
      [['request', 1]],
    );
  });

  test('the fingerprint covers type, ip, ua, props and client time', () => {
    const base = httpEvent({ ip: '10.0.0.1', ua: 'a', clientTs: 5 });
    const fps = new Set([
      requestFingerprint(base),
      requestFingerprint({ ...base, type: 'click' }),
      requestFingerprint({ ...base, ip: '10.0.0.2' }),
      requestFingerprint({ ...base, ua: 'b' }),
      requestFingerprint({ ...base, props: { x: 1 } }),
      requestFingerprint({ ...base, clientTs: 6 }),
    ]);
    assert.equal(fps.size, 6);
    assert.equal(requestFingerprint({ ...base, id: 'other' }), requestFingerprint(base), 'the id is not part of it');
  });

  test('with action drop a repeat is left out and counted as BEACON_E_DUPLICATE_DROPPED', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(enrichConfig({ duplicates: { ...noIds, action: 'drop' } }), { metrics });
    const first = chain.run([httpEvent({ ip: '10.0.0.1' })]);
    assert.equal(first.length, 1);
    chain.settled(first, true);
    assert.equal(chain.run([httpEvent({ ip: '10.0.0.1' })]).length, 0);
    const { values } = await metrics.eventsRejected.get();
    assert.deepEqual(
      values.map((v) => [v.labels.code, v.labels.source, v.value]),
      [['BEACON_E_DUPLICATE_DROPPED', 'http', 1]],
    );
  });

  test('a request whose append failed is not remembered: the client retry is not a repeat, even with drop', async () => {
    const chain = createEnrichChain(enrichConfig({ duplicates: { ...noIds, action: 'drop' } }), {});
    const refuse = () => Promise.reject(new Error('log full'));
    await assert.rejects(appendEnriched(chain, [httpEvent({ ip: '10.0.0.9' })], refuse), /log full/);
    const written: unknown[] = [];
    const retried = await appendEnriched(
      chain,
      [httpEvent({ ip: '10.0.0.9' })],
      async (events) => void written.push(...events),
    );
    assert.equal(retried, 1, 'the retry was dropped as a repeat');
    assert.equal(written.length, 1);
    assert.equal(
      await appendEnriched(chain, [httpEvent({ ip: '10.0.0.9' })], async () => {}),
      0,
      'a repeat after a durable append is dropped',
    );
  });

  test('repeats within one batch are flagged', () => {
    const chain = createEnrichChain(enrichConfig({ duplicates: noIds }), {});
    const [a, b] = [httpEvent({ ip: '10.0.0.5' }), httpEvent({ ip: '10.0.0.5' })];
    chain.run([a!, b!]);
    assert.equal(a!.meta.duplicate, undefined);
    assert.equal(b!.meta.duplicate, true);
  });
});
