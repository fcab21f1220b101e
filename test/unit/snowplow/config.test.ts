import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';

/** The `## Snowplow` section of docs/protocols.md. */
function snowplowSection(): string {
  const text = readFileSync(fileURLToPath(new URL('../../../docs/protocols.md', import.meta.url)), 'utf8');
  const start = text.indexOf('## Snowplow');
  assert.ok(start !== -1, 'docs/protocols.md has a ## Snowplow section');
  const next = text.indexOf('\n## ', start + 1);
  return text.slice(start, next === -1 ? undefined : next);
}

describe('the snowplow config section', () => {
  test('is off by default and takes any app id', () => {
    assert.deepEqual(configSchema.parse({}).snowplow, { enabled: false, appIds: [] });
  });

  test('loads the YAML examples of the Snowplow docs', () => {
    const blocks = [...snowplowSection().matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.ok(blocks.length >= 1, 'the section has a config example');
    for (const block of blocks) {
      const config = configSchema.parse(parse(block));
      assert.equal(config.snowplow.enabled, true);
    }
  });

  test('refuses an unknown key and an empty app id, naming the field', () => {
    const unknown = configSchema.safeParse({ snowplow: { enabled: true, appId: ['shop'] } });
    assert.equal(unknown.success, false);
    assert.match(JSON.stringify(unknown.error?.issues), /appId/);
    const empty = configSchema.safeParse({ snowplow: { enabled: true, appIds: [''] } });
    assert.equal(empty.success, false);
    assert.deepEqual(empty.error?.issues[0]?.path, ['snowplow', 'appIds', 0]);
  });
});
