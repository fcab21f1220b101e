import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load.js';
import { SchemaSet } from '../../../src/schemas/schemaSet.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** docs/examples/segment-and-schemas.yaml is loaded by the examples test; this also compiles its schema files, as `beacon start` would from the repository root. */
describe('the documented schema example', () => {
  test('compiles, follows its $refs, and checks the Segment e-commerce event it names', async () => {
    const { config } = await loadConfig({
      source: join(ROOT, 'docs', 'examples', 'segment-and-schemas.yaml'),
      env: {},
    });
    const schemas = SchemaSet.load(config.schemas, ROOT);
    assert.deepEqual(schemas.types, ['Order_Completed.25946acaf9', 'signup']);
    assert.equal(
      schemas.check('Order_Completed.25946acaf9', {
        order_id: 'o-1',
        total: 30,
        currency: 'EUR',
        products: [{ product_id: 'p', price: 10, quantity: 3 }],
      }),
      undefined,
    );
    assert.deepEqual(
      schemas.check('Order_Completed.25946acaf9', { order_id: 'o-1', total: -1, currency: 'euro' })?.reasons,
      ['props.total must be >= 0', 'props.currency must match pattern "^[A-Z]{3}$"'],
    );
    assert.equal(config.segment.enabled, true);
    assert.deepEqual(
      config.sinks.map((s) => [s.name, (s as { badStream: string }).badStream]),
      [
        ['archive', 'exclude'],
        ['bad-rows', 'only'],
      ],
    );
  });
});
