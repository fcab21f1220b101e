import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { postJson, startCollector } from './harness.js';

describe('client address', () => {
  test('it ignores X-Forwarded-For and uses the socket address when trustProxy is off', async () => {
    const collector = await startCollector({ server: { trustProxy: false } });
    try {
      await collector.send({ path: '/t/view', headers: { 'X-Forwarded-For': '203.0.113.9, 10.0.0.1' } });
      assert.equal(collector.recorder.events.at(-1)!.ip, '127.0.0.1');
    } finally {
      await collector.close();
    }
  });

  test('it takes the first X-Forwarded-For hop when trustProxy is on', async () => {
    const collector = await startCollector({ server: { trustProxy: true } });
    try {
      await collector.send({ path: '/t/view', headers: { 'X-Forwarded-For': ' 203.0.113.9 , 10.0.0.1' } });
      assert.equal(collector.recorder.events.at(-1)!.ip, '203.0.113.9');
      await postJson(collector, '/batch', [{ type: 'a' }], { 'X-Forwarded-For': '2001:db8::1' });
      assert.equal(collector.recorder.events.at(-1)!.ip, '2001:db8::1');
      await collector.send({ path: '/t/view' });
      assert.equal(collector.recorder.events.at(-1)!.ip, '127.0.0.1', 'no header: the socket address');
    } finally {
      await collector.close();
    }
  });
});
