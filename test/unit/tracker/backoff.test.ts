import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryDelay } from '../../../tracker/src/backoff.js';

describe("the tracker's retry delay", () => {
  it('doubles from 1 s, jittered between half and all of it', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => retryDelay(n, 0, 1)),
      [1000, 2000, 4000, 8000],
    );
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => retryDelay(n, 0, 0)),
      [500, 1000, 2000, 4000],
    );
  });

  it('stops growing at 5 minutes, however many failures', () => {
    assert.equal(retryDelay(9, 0, 1), 256_000);
    assert.equal(retryDelay(10, 0, 1), 300_000);
    assert.equal(retryDelay(10_000, 0, 1), 300_000);
  });

  it("waits at least the server's Retry-After", () => {
    assert.equal(retryDelay(1, 5000, 1), 5000);
    assert.equal(retryDelay(6, 5000, 1), 32_000);
  });
});
