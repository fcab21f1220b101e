import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../../../src/errors/codes.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('the error catalogue', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const documented = new Map([...doc.matchAll(/^\| `(BEACON_E_[A-Z_]+)` \| (\d+|-) \|/gm)].map((m) => [m[1]!, m[2]!]));

  it('documents every code in docs/errors.md, with its status', () => {
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      assert.ok(documented.has(code), `${code} is missing from docs/errors.md`);
      const shown = documented.get(code);
      if (shown !== '-') assert.equal(Number(shown), status, `${code}: docs say ${shown}, code says ${status}`);
    }
  });

  it('documents no code that does not exist', () => {
    for (const code of documented.keys())
      assert.ok(code in ERROR_CODES, `docs/errors.md lists ${code}, which src/errors/codes.ts does not define`);
  });

  it('uses in src/ only codes that the catalogue defines', () => {
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/BEACON_E_[A-Z_]+/g)) {
        assert.ok(m[0] in ERROR_CODES, `${file} uses ${m[0]}, which is not in src/errors/codes.ts`);
      }
    }
  });

  it('gives every code a hint that says what to do', () => {
    for (const [code, { hint }] of Object.entries(ERROR_CODES))
      assert.ok(hint.length > 20, `${code} has no useful hint`);
  });
});
