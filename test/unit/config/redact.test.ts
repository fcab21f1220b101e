import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redactConfig } from '../../../src/config/redact.js';

describe('config redaction', () => {
  it('hides values under secret-looking keys and credentials inside URLs', () => {
    const shown = redactConfig({
      sinks: [
        {
          name: 'q',
          type: 'x',
          password: 'hunter2',
          url: 'amqp://guest:guest@127.0.0.1:5672/',
          headers: { Authorization: 'Bearer abc' },
        },
      ],
      api: { token: 't0k3n' },
    });
    const text = JSON.stringify(shown);
    for (const secret of ['hunter2', 'Bearer abc', 't0k3n', 'guest@'])
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    assert.match(text, /amqp:\/\/guest:\*\*\*@127\.0\.0\.1/);
  });

  it('leaves the original untouched', () => {
    const original = { password: 'x' };
    redactConfig(original);
    assert.equal(original.password, 'x');
  });
});
