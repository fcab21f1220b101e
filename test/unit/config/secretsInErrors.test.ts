import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { stringify } from 'yaml';
import { parseCanopsisTargets } from '../../../src/config/import/canopsis.js';
import { loadConfig, validateConfig } from '../../../src/config/load.js';
import { redactConfig, redactText } from '../../../src/config/redact.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { ConfigReloader } from '../../../src/reload/index.js';

/**
 * Issue 12, finding 4: one redaction rule for every place that shows config or a config error.
 * Every secret below is a distinct marker, and no output may contain any of them.
 */
const PI = 31415926535;

/** Runs `fn`, and answers the message of the error it throws (it must throw). */
async function messageOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('expected an error');
}

function assertHidden(text: string, secrets: readonly (string | number)[]): void {
  for (const secret of secrets) assert.ok(!text.includes(String(secret)), `${secret} leaked in:\n${text}`);
}

describe('the redaction rule', () => {
  test('hides every URL shape the review found: a password with @, a user-only token, query values', () => {
    assert.equal(redactText('amqp://u:p@ss-SECRET@host:5672/v'), 'amqp://u:***@host:5672/v');
    assert.equal(redactText('https://TOKEN123@host/x'), 'https://***@host/x');
    assert.equal(
      redactText('http://cfg.internal/beacon.yaml?api_key=QK1&env=prod#frag'),
      'http://cfg.internal/beacon.yaml?api_key=***&env=***#***',
    );
    assert.equal(redactText('got "http://u:HTTPPASS@host:99999/x"'), 'got "http://u:***@host:99999/x"');
    assert.equal(redactText('host=db password=hunter2 user=x'), 'host=db password=*** user=x');
  });

  test('hides secret-named keys of every block, including ones no sink declares (apiKeys, apiSecret, secretAccessKey)', () => {
    const shown = JSON.stringify(
      redactConfig({
        sinks: [
          { name: 'q', type: 'rabbitmq', password: PI },
          { name: 'k', type: 'kafka', sasl: { mechanism: 'plain', username: 'u', password: 'KAFKAPASS' } },
          {
            name: 'h',
            type: 'http',
            url: 'https://TOKENUSER@example.com/in?sig=SIGQ',
            headers: { 'X-Custom': 'HEADERSECRET' },
          },
          { name: 's3', type: 's3', bucket: 'b', secretAccessKey: 'AWSSECRET', accessKeyId: 'AKIA' },
          { name: 'ga', type: 'ga4', apiSecret: 'GA4SECRET', measurementId: 'G-1' },
        ],
        posthog: { enabled: true, apiKeys: ['phc_POSTHOGKEY'] },
        segment: { writeKeys: ['WRITEKEY1'] },
        api: { tokens: [{ name: 'ci', token: 'APITOKEN', scopes: ['admin'] }] },
        other: { api_secret: 'APISECRET2', accessKey: 'ACCESSKEY', privateKey: 'PRIVKEY', client_token: 'CT' },
      }),
    );
    assertHidden(shown, [
      PI,
      'KAFKAPASS',
      'TOKENUSER',
      'SIGQ',
      'HEADERSECRET',
      'AWSSECRET',
      'GA4SECRET',
      'POSTHOGKEY',
      'WRITEKEY1',
      'APITOKEN',
      'APISECRET2',
      'ACCESSKEY',
      'PRIVKEY',
      '"CT"',
    ]);
    assert.match(shown, /"name":"ci"/, 'a token keeps its name');
    assert.match(shown, /"scopes":\["admin"\]/, 'and its scopes');
  });
});

describe('config errors never echo a secret value', () => {
  test('a number where a sink password belongs (the issue\'s "got 31415926535")', async () => {
    const message = await messageOf(() =>
      validateConfig({ sinks: [{ name: 'q', type: 'rabbitmq', exchange: 'x', password: PI }] }),
    );
    assert.match(message, /sinks\[0\]\.password: expected string/);
    assertHidden(message, [PI]);
  });

  test('the same value from an env override names the variable but not the value', async () => {
    const message = await messageOf(() =>
      loadConfig({
        env: {
          BEACON_SINKS__0__NAME: 'q',
          BEACON_SINKS__0__TYPE: 'rabbitmq',
          BEACON_SINKS__0__EXCHANGE: 'x',
          BEACON_SINKS__0__PASSWORD: String(PI),
        },
      }),
    );
    assert.match(message, /BEACON_SINKS__0__PASSWORD/);
    assertHidden(message, [PI]);
  });

  test('tokens, write keys, Kafka passwords and URLs with credentials', async () => {
    const message = await messageOf(() =>
      validateConfig({
        api: { tokens: [{ name: 'ci', token: 27182818284, scopes: ['admin'] }] },
        segment: { enabled: true, writeKeys: [16180339887] },
        sinks: [
          {
            name: 'k',
            type: 'kafka',
            brokers: ['127.0.0.1:9092'],
            topic: 't',
            sasl: { mechanism: 'plain', username: 'u', password: 14142135623 },
          },
          { name: 'h', type: 'http', url: 'http://u:HTTPPASS@host:99999/x' },
          { name: 'w', type: 'http', url: 'https://TOKENONLY@host:99999/?api_key=QUERYKEY' },
        ],
      }),
    );
    assertHidden(message, [27182818284, 16180339887, 14142135623, 'HTTPPASS', 'TOKENONLY', 'QUERYKEY']);
    assert.match(message, /sinks\[1\]\.url/, 'the field is still named');
  });

  test('a config URL that cannot be fetched is named without its credentials or query values', async () => {
    const message = await messageOf(() =>
      loadConfig({
        source: 'http://cfguser:CFGPASS@127.0.0.1:9/beacon.yaml?token=CFGTOKEN',
        env: {},
        fetchAttempts: 1,
      }),
    );
    assert.match(
      message,
      /cannot fetch config from http:\/\/cfguser:\*\*\*@127\.0\.0\.1:9\/beacon\.yaml\?token=\*\*\*/,
    );
    assertHidden(message, ['CFGPASS', 'CFGTOKEN']);
  });

  test('beacon import canopsis: a password of the wrong type, and a syntax error next to one', async () => {
    const typeError = await messageOf(() =>
      parseCanopsisTargets(JSON.stringify({ targets: [{ host: 'h', password: PI }] })),
    );
    assert.match(typeError, /targets\[0\]\.password must be a string/);
    assertHidden(typeError, [PI]);
    const syntax = await messageOf(() =>
      parseCanopsisTargets('{"targets": [{"host": "h", "password": CANOPSISPASS}]}'),
    );
    assertHidden(syntax, ['CANOPSISPASS']);
  });
});

describe('a refused reload keeps secrets out of its answer and its log line', () => {
  let server: Server;
  let body = '';
  let base = '';
  before(async () => {
    server = createServer((_req, res) => res.end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  test('the 422 message and the config_reload_refused line hide the --config URL query and the bad value', async () => {
    body = stringify({ sinks: [{ name: 'q', type: 'rabbitmq', host: '127.0.0.1', exchange: 'x', password: 'fine' }] });
    const source = `${base}/beacon.yaml?access_token=URLTOKEN`;
    const loaded = await loadConfig({ source, env: {} });
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }),
    );
    const reloader = new ConfigReloader({
      loadOptions: loaded.options,
      initial: loaded.config,
      sinks: { applySinks: async () => undefined },
      logger,
    });

    const applied = await reloader.reload('api');
    assertHidden(JSON.stringify(applied), ['URLTOKEN']);

    body = stringify({ sinks: [{ name: 'q', type: 'rabbitmq', host: '127.0.0.1', exchange: 'x', password: PI }] });
    let refused: unknown;
    await reloader.reload('api').catch((err: unknown) => (refused = err));
    assert.ok(
      isBeaconError(refused) && refused.code === 'BEACON_E_RELOAD_REFUSED' && refused.status === 422,
      String(refused),
    );
    assertHidden(JSON.stringify(refused.toBody()), ['URLTOKEN', PI]);
    const logged = lines.join('');
    assert.match(logged, /"event":"config_reload_refused"/);
    assertHidden(logged, ['URLTOKEN', PI]);
  });
});
