import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdHashRing } from '../../../src/enrich/idHashRing.js';

describe('the id memory hash ring', () => {
  test('answers like a Map in first-seen order under random adds, forgets, expiry and eviction', () => {
    const max = 300;
    const ring = new IdHashRing(max);
    const model = new Map<string, number>();
    let now = 0;
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let step = 0; step < 20_000; step++) {
      now += rand(3);
      const id = `id-${rand(1000)}`;
      const op = rand(10);
      if (op < 6) {
        if (!model.has(id)) {
          ring.add(id, now);
          model.set(id, now);
          // The model evicts the oldest entry past max (forgotten ones take no room in the model,
          // but keep their slot in the ring until it passes the head: evict in ring order below).
        }
      } else if (op < 8) {
        assert.equal(ring.remove(id), model.delete(id), `remove ${id} at step ${step}`);
      } else {
        const oldest = now - 200;
        ring.expire(oldest);
        for (const [k, t] of model) if (t <= oldest) model.delete(k);
      }
      // Entries the ring dropped for room are the model's oldest: drop those the ring no longer holds, oldest first.
      for (const [k] of model) {
        if (ring.timeOf(k) !== undefined) break;
        model.delete(k);
      }
      assert.ok(ring.size <= max);
      assert.equal(ring.size, model.size, `size at step ${step}`);
      for (const [k, t] of model) assert.equal(ring.timeOf(k), t, `${k} at step ${step}`);
    }
  });

  test('keeps exactly the newest maxIds ids, in a fixed number of bytes', () => {
    const ring = new IdHashRing(100_000);
    for (let i = 0; i < 250_000; i++) ring.add(`client-${i}-a-rather-long-identifier-${i * 7}`, i);
    assert.equal(ring.size, 100_000);
    assert.equal(ring.timeOf('client-149999-a-rather-long-identifier-1049993'), undefined);
    assert.equal(ring.timeOf('client-150000-a-rather-long-identifier-1050000'), 150_000);
    assert.equal(ring.timeOf('client-249999-a-rather-long-identifier-1749993'), 249_999);
    assert.ok(ring.bytes < 3 * 1024 ** 2, `the ring holds ${ring.bytes} bytes for 100k ids`);
  });
});
