import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { schemasSchema } from '../../../src/schemas/schemasConfig.js';
import { MAX_REASONS, SchemaSet } from '../../../src/schemas/schemaSet.js';

/** A temporary directory holding the given files (name -> JSON value or raw text). */
function dirWith(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-schemas-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const load = (raw: Record<string, unknown>, cwd?: string) => SchemaSet.load(schemasSchema.parse(raw), cwd);

function loadError(raw: Record<string, unknown>, cwd?: string): { code: string; message: string } {
  try {
    load(raw, cwd);
  } catch (err) {
    assert.ok(isBeaconError(err), `expected a BeaconError, got ${String(err)}`);
    return err;
  }
  return assert.fail('expected the schemas to be refused');
}

const signup = {
  type: 'object',
  required: ['email', 'plan'],
  properties: {
    email: { type: 'string', format: 'email' },
    plan: { enum: ['free', 'pro'] },
    items: { type: 'array', items: { $ref: '_common.json#/$defs/item' } },
  },
  additionalProperties: false,
};
const common = {
  $defs: { item: { type: 'object', required: ['price'], properties: { price: { type: 'number', minimum: 0 } } } },
};

describe('the schema set', () => {
  test('reads <type>.json from the dir, resolves $refs to _files, and checks only the types that have a schema', () => {
    const set = load({ dir: dirWith({ 'signup.json': signup, '_common.json': common }) });
    assert.deepEqual(set.types, ['signup']);
    assert.equal(set.check('signup', { email: 'ann@example.com', plan: 'pro', items: [{ price: 3 }] }), undefined);
    assert.equal(set.check('click', { anything: true }), undefined, 'a type without a schema passes unchecked');
  });

  test('lists every reason, readable and pointing at the field, and keys the first for metrics', () => {
    const set = load({ dir: dirWith({ 'signup.json': signup, '_common.json': common }) });
    const violation = set.check('signup', { email: 'nope', plan: 'gold', extra: 1, items: [{ price: -1 }, {}] });
    assert.deepEqual(violation, {
      reasons: [
        'props has a property the schema does not allow: "extra"',
        'props.email must match format "email"',
        'props.plan must be one of "free", "pro"',
        'props.items[0].price must be >= 0',
        'props.items[1] is missing the required property "price"',
      ],
      key: '/:additionalProperties',
    });
    assert.deepEqual(set.check('signup', { plan: 'free' }), {
      reasons: ['props is missing the required property "email"'],
      key: '/email:required',
    });
    assert.equal(
      set.check('signup', { email: 'a@b.co', plan: 'pro', items: [{ price: 'x' }] })?.key,
      '/items/*/price:type',
      'array indexes fold into the metric key',
    );
  });

  test('never throws on props of any shape', () => {
    const set = load({ dir: dirWith({ 'signup.json': signup, '_common.json': common }) });
    for (const props of [null, undefined, 42, 'text', [], [1, 2], { email: { deep: [1] } }]) {
      const violation = set.check('signup', props);
      assert.ok(violation && violation.reasons.length > 0, `${JSON.stringify(props)} should be invalid`);
    }
  });

  test('caps the reasons at MAX_REASONS and says how many more there were', () => {
    const many = {
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`f${i}`, { type: 'number' }])),
    };
    const set = load({ types: { wide: join(dirWith({ 'wide.json': many }), 'wide.json') } });
    const violation = set.check('wide', Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`f${i}`, 'x'])));
    assert.equal(violation?.reasons.length, MAX_REASONS);
    assert.equal(violation?.reasons.at(-1), '... and 6 more');
  });

  test('takes types: {type: file} relative to the working directory, over a dir file of the same type', () => {
    const cwd = dirWith({
      'schemas/signup.json': signup,
      'schemas/_common.json': common,
      'strict/signup.json': { type: 'object', required: ['ref'] },
    });
    const set = load({ dir: 'schemas', types: { signup: 'strict/signup.json', order: 'schemas/signup.json' } }, cwd);
    assert.deepEqual(set.types, ['order', 'signup']);
    assert.equal(set.check('signup', { ref: 'x' }), undefined, 'the types entry wins over dir');
    assert.equal(set.check('order', { email: 'a@b.co', plan: 'pro' }), undefined);
  });

  test('follows $schema: a 2020-12 schema is checked with its own keywords', () => {
    const set = load({
      dir: dirWith({
        'order.json': {
          $schema: 'https://json-schema.org/draft/2020-12/schema',
          type: 'array',
          prefixItems: [{ type: 'string' }, { type: 'number' }],
          items: false,
        },
      }),
    });
    assert.equal(set.check('order', ['sku', 3]), undefined);
    assert.ok(set.check('order', ['sku', 3, 'extra']));
  });

  test('with requireSchema, a type without a schema is invalid', () => {
    const set = load({ dir: dirWith({ 'signup.json': { type: 'object' } }), requireSchema: true });
    assert.deepEqual(set.check('mystery', {}), {
      reasons: ['no schema is configured for type "mystery" (schemas.requireSchema is on)'],
      key: 'no_schema',
    });
    assert.equal(set.empty, false);
    assert.equal(load({}).empty, true, 'nothing configured: nothing is ever checked');
  });

  test('refuses, naming the file, a schema it cannot read, parse or compile', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ dir: '/nonexistent/beacon-schemas' }, /schemas\.dir .*cannot be read \(ENOENT\)/],
      [{ types: { signup: '/nonexistent/signup.json' } }, /\/nonexistent\/signup\.json cannot be read/],
      [{ dir: dirWith({ 'a.json': '{ not json' }) }, /a\.json is not valid JSON/],
      [{ dir: dirWith({ 'a.json': '[1]' }) }, /a\.json must hold a JSON Schema object/],
      [
        { dir: dirWith({ 'a.json': { type: 'object', propertys: {} } }) },
        /a\.json is not a usable JSON Schema: .*unknown keyword: "propertys"/,
      ],
      [{ dir: dirWith({ 'a.json': { type: 'nonsense' } }) }, /a\.json is not a usable JSON Schema/],
      [
        { dir: dirWith({ 'a.json': { $ref: '_missing.json' } }) },
        /a\.json is not a usable JSON Schema: .*_missing\.json/,
      ],
      [
        { dir: dirWith({ 'a.json': { type: 'string', format: 'no-such-format' } }) },
        /a\.json.*unknown format "no-such-format"/,
      ],
      [
        {
          dir: dirWith({ 'a.json': { type: 'object' }, '_shared.json': { typo: 1, $defs: { x: { type: 'string' } } } }),
        },
        /_shared\.json is not a usable JSON Schema: .*unknown keyword: "typo"/,
      ],
    ];
    for (const [raw, pattern] of cases) {
      const err = loadError(raw);
      assert.equal(err.code, 'BEACON_E_SCHEMA_LOAD');
      assert.match(err.message, pattern);
    }
  });
});
