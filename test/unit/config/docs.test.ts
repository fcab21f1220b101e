import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../../src/config/schema.js';
import { keyPaths } from '../../../src/config/schemaWalk.js';
import { SINK_DEFINITIONS } from '../../../src/sinks/registry.js';
import { SOURCE_DEFINITIONS } from '../../../src/sources/registry.js';

/** A key counts as documented when the doc names it, or names its children (`rotate.maxBytes` documents `rotate`). */
const documented = (text: string, path: string) => text.includes(`\`${path}\``) || text.includes(`\`${path}.`);

const doc = (name: string) => readFileSync(fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url)), 'utf8');

describe('the configuration docs', () => {
  it('name every key of the schema in docs/configuration.md', () => {
    const text = doc('configuration.md');
    const missing = keyPaths(configSchema).filter((p) => !documented(text, p));
    assert.deepEqual(missing, [], `undocumented config keys: ${missing.join(', ')}`);
  });

  it('name every key of every sink type in docs/sinks.md', () => {
    const text = doc('sinks.md');
    const base = new Set([
      'type',
      'name',
      'codec',
      'batch',
      'batch.maxEvents',
      'batch.maxWaitMs',
      'maxFailoverDuration',
      'types',
      'badStream',
    ]);
    for (const def of SINK_DEFINITIONS) {
      assert.ok(text.includes(`\`${def.type}\``), `docs/sinks.md does not mention sink type ${def.type}`);
      const missing = keyPaths(def.configSchema).filter((p) => !base.has(p) && !documented(text, p));
      assert.deepEqual(missing, [], `sink ${def.type}: undocumented keys ${missing.join(', ')}`);
    }
  });

  it('name every key of every source type in docs/sources.md', () => {
    assert.ok(
      existsSync(fileURLToPath(new URL('../../../docs/sources.md', import.meta.url))),
      'docs/sources.md is missing',
    );
    const text = doc('sources.md');
    const base = new Set(['type', 'name', 'format']);
    for (const def of SOURCE_DEFINITIONS) {
      assert.ok(text.includes(`\`${def.type}\``), `docs/sources.md does not mention source type ${def.type}`);
      const missing = keyPaths(def.configSchema).filter((p) => !base.has(p) && !documented(text, p));
      assert.deepEqual(missing, [], `source ${def.type}: undocumented keys ${missing.join(', ')}`);
    }
  });
});
