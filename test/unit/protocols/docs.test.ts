import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { redactConfig } from '../../../src/config/redact.js';
import { enabledProtocols } from '../../../src/sources/http/protocols.js';

const DOC = readFileSync(fileURLToPath(new URL('../../../docs/protocols.md', import.meta.url)), 'utf8');
const examples = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('docs/protocols.md', () => {
  test('has a config example per protocol, and a section per protocol', () => {
    assert.ok(examples.length >= 5);
    for (const heading of ['## PostHog', '## Plausible', '## Umami', '## GA4', '## Snowplow'])
      assert.ok(DOC.includes(`\n${heading}\n`), `${heading} section`);
  });

  for (const [index, example] of examples.entries()) {
    test(`example ${index + 1} is a valid config that turns its protocols on`, () => {
      const raw = parse(example) as Record<string, unknown>;
      const config = configSchema.parse(raw);
      assert.deepEqual(enabledProtocols(config), Object.keys(raw), 'exactly the blocks it names are on');
    });
  }
});

describe('the protocol config blocks', () => {
  test('are all off by default', () => {
    assert.deepEqual(enabledProtocols(configSchema.parse({})), []);
  });

  test('refuse PostHog without a project key and GA4 without a stream, naming the field', () => {
    const posthog = configSchema.safeParse({ posthog: { enabled: true } });
    assert.equal(posthog.success, false);
    assert.deepEqual(posthog.error!.issues[0]!.path, ['posthog', 'apiKeys']);
    const ga4 = configSchema.safeParse({ ga4: { enabled: true, streams: [{ apiSecret: 's' }] } });
    assert.equal(ga4.success, false);
    assert.match(ga4.error!.issues[0]!.message, /exactly one of measurementId/);
    assert.equal(
      configSchema.safeParse({ umami: { enabled: true, website: [] } }).success,
      false,
      'unknown keys are errors',
    );
  });

  test('are redacted by check-config and the admin API: PostHog keys and GA4 secrets', () => {
    const config = configSchema.parse({
      posthog: { enabled: true, apiKeys: ['phc_secret_1'] },
      ga4: { enabled: true, streams: [{ measurementId: 'G-1', apiSecret: 'mp-secret' }] },
    });
    const text = JSON.stringify(redactConfig(config));
    assert.equal(text.includes('phc_secret_1'), false);
    assert.equal(text.includes('mp-secret'), false);
    assert.ok(text.includes('G-1'), 'the measurement id is not a secret');
  });
});
