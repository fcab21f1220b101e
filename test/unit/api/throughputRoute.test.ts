import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { throughputRoute } from '../../../src/api/throughputRoute.js';
import { ThroughputHistory } from '../../../src/ops/throughputHistory.js';
import type { AdminRequest } from '../../../src/api/adminRequest.js';

const T0 = 1_700_000_000_000;
const req = (query: Record<string, string> = {}): AdminRequest => ({
  method: 'GET',
  path: '/api/v1/throughput',
  query,
  headers: {},
});

describe('GET /api/v1/throughput', () => {
  const history = new ThroughputHistory(['hook'], 900);
  history.record({ received: 0, rejected: 0, delivered: { hook: 0 } }, T0);
  history.record({ received: 40, rejected: 1, delivered: { hook: 39 } }, T0 + 1000);
  const route = throughputRoute(history, () => T0 + 2000);

  it('is a realtime route that needs the read scope', () => {
    assert.equal(route.class, 'realtime');
    assert.equal(route.scope, 'read');
  });

  it('answers 900 seconds per series by default, and fewer with ?seconds=', async () => {
    const all = JSON.parse((await route.handle(req(), {})).body) as {
      received: (number | null)[];
      delivered: (number | null)[];
      deliveredBySink: Record<string, unknown>;
    };
    assert.equal(all.received.length, 900);
    assert.equal(all.received.at(-1), 40);
    assert.equal(all.delivered.at(-1), 39);
    assert.deepEqual(Object.keys(all.deliveredBySink), ['hook']);
    const last = JSON.parse((await route.handle(req({ seconds: '60' }), {})).body) as { received: unknown[] };
    assert.equal(last.received.length, 60);
  });

  it('refuses a bad ?seconds= with a message naming the range', async () => {
    for (const seconds of ['0', '901', 'abc', '1.5']) {
      await assert.rejects(
        route.handle(req({ seconds }), {}),
        (err: Error & { code?: string }) => err.code === 'BEACON_E_BAD_QUERY' && /1 to 900/.test(err.message),
      );
    }
  });
});
