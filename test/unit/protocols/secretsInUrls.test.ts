import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { urlWithoutQueryValues } from '../../../src/sources/http/loggedUrl.js';
import { startProtocols, type ProtocolCollector } from './harness.js';

const SECRET = 'ga4-secret-QUERY-7731';

describe('secrets sent in a query string', () => {
  test('a URL shown in a log line or an error keeps its path and parameter names, never a value', () => {
    assert.equal(
      urlWithoutQueryValues(`/mp/collect?measurement_id=G-1&api_secret=${SECRET}`),
      '/mp/collect?measurement_id=***&api_secret=***',
    );
    assert.equal(urlWithoutQueryValues('/e/?api_key=phc_x&flag&'), '/e/?api_key=***&flag');
    assert.equal(urlWithoutQueryValues('/plain/path'), '/plain/path');
    assert.equal(urlWithoutQueryValues(`/x?k=${'v'.repeat(500)}`, 50).length <= 50, true);
  });

  describe('on a collector with GA4 off', () => {
    let c: ProtocolCollector;
    before(async () => {
      c = await startProtocols({});
    });
    after(() => c.close());

    test("the 404 for a GA4 request names the path, not the sender's api_secret", async () => {
      const answer = await c.post(`/mp/collect?measurement_id=G-1&api_secret=${SECRET}`, {
        client_id: '1',
        events: [],
      });
      assert.equal(answer.status, 404);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_NOT_FOUND');
      assert.ok(!answer.text.includes(SECRET), answer.text);
      assert.match(answer.text, /\/mp\/collect\?measurement_id=\*\*\*&api_secret=\*\*\*/);
    });
  });
});
