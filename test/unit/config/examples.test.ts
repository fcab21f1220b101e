import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../src/config/load.js';

const EXAMPLES = fileURLToPath(new URL('../../../docs/examples', import.meta.url));

describe('documented example configs', () => {
  const files = readdirSync(EXAMPLES).filter((f) => /\.(ya?ml|json)$/.test(f));

  it('has examples to check', () => assert.ok(files.length >= 3));

  for (const file of files) {
    it(`loads ${file} without errors`, async () => {
      const { config } = await loadConfig({ source: join(EXAMPLES, file), env: {} });
      assert.ok(config.sinks.length > 0, 'every example configures at least one sink');
    });
  }
});
