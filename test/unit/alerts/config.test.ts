import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../src/config/load.js';
import { redactConfig } from '../../../src/config/redact.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';

const sinks = [{ name: 'hook', type: 'http', url: 'http://127.0.0.1:9/x' }];
const webhook = {
  name: 'chat',
  type: 'webhook',
  url: 'https://chat.example/hooks/T0/B0/s3cr3t',
  headers: { Authorization: 'Bearer abc' },
};
const email = {
  name: 'ops',
  type: 'email',
  host: 'smtp.example',
  from: 'Beacon <beacon@example.com>',
  to: ['ops@example.com'],
  auth: { user: 'beacon', password: 'hunter2' },
};

function problem(raw: Record<string, unknown>): string {
  try {
    validateConfig(raw);
  } catch (err) {
    assert.ok(isBeaconError(err));
    assert.equal(err.code, 'BEACON_E_CONFIG_FIELD');
    return err.message;
  }
  assert.fail('the config was accepted');
}

describe('the alerts config', () => {
  it('fills in the documented defaults', () => {
    const config = validateConfig({
      sinks,
      alerts: {
        channels: [webhook],
        rules: [
          { name: 'down', type: 'sink_down', channels: ['chat'] },
          { name: 'quiet', type: 'no_events', channels: ['chat'] },
        ],
      },
    });
    assert.equal(config.alerts.evaluateEvery, 10_000);
    assert.equal(config.alerts.renotifyAfter, 3_600_000);
    assert.equal(config.alerts.rules[0]!.for, 300_000);
    assert.equal(config.alerts.rules[1]!.for, 900_000);
    assert.equal(config.alerts.channels[0]!.retryFor, 600_000);
  });

  it('refuses a rule that names a channel not configured, saying which exist', () => {
    assert.match(
      problem({
        sinks,
        alerts: { channels: [webhook], rules: [{ name: 'down', type: 'sink_down', channels: ['pager'] }] },
      }),
      /alerts\.rules\[0\]\.channels\[0\]: rule "down" names channel "pager", which is not in alerts\.channels \(chat\)/s,
    );
  });

  it('refuses a rule that watches a sink not configured', () => {
    assert.match(
      problem({
        sinks,
        alerts: { channels: [webhook], rules: [{ name: 'down', type: 'sink_down', sink: 'hok', channels: ['chat'] }] },
      }),
      /alerts\.rules\[0\]\.sink: rule "down" watches sink "hok", which is not configured \(sinks: hook\)/s,
    );
  });

  it('refuses duplicate rule names, bad thresholds and status patterns', () => {
    const rule = { name: 'r', type: 'log_usage', percent: 80, channels: ['chat'] };
    assert.match(
      problem({ sinks, alerts: { channels: [webhook], rules: [rule, rule] } }),
      /rule name "r" is used twice/,
    );
    assert.match(
      problem({ sinks, alerts: { channels: [webhook], rules: [{ ...rule, percent: 150 }] } }),
      /alerts\.rules\[0\]\.percent: Too big/,
    );
    assert.match(
      problem({
        sinks,
        alerts: {
          channels: [webhook],
          rules: [{ name: 'h', type: 'http_errors', status: '200', perMinute: 5, channels: ['chat'] }],
        },
      }),
      /status class such as 4xx/,
    );
  });

  it('refuses an email channel without recipients or with a bad address', () => {
    assert.match(
      problem({ sinks, alerts: { channels: [{ ...email, to: [] }] } }),
      /alerts\.channels\[0\]\.to: Too small/,
    );
    assert.match(problem({ sinks, alerts: { channels: [{ ...email, from: 'beacon' }] } }), /an email address/);
  });

  it('redacts the SMTP password, and the webhook URL and headers, in what the API and check-config show', () => {
    const shown = redactConfig(validateConfig({ sinks, alerts: { channels: [webhook, email] } }));
    const [hook, mail] = shown.alerts.channels as Record<string, unknown>[];
    assert.equal(hook!.url, '***');
    assert.deepEqual(hook!.headers, { Authorization: '***' });
    assert.deepEqual(mail!.auth, { user: 'beacon', password: '***' });
    assert.equal(mail!.host, 'smtp.example');
  });
});
