import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeJsonText } from '../../../../src/event/codecs/json.js';
import type { TrackedEvent } from '../../../../src/event/trackedEvent.js';
import { createEncoder } from '../../../../src/sinks/s3/lakeEncoders.js';
import { columnsOfSchema, objectColumns, type ColumnsOf } from '../../../../src/sinks/s3/typedColumns.js';
import { parquetColumns, parquetRows } from '../../../support/lakeReadBack.js';

const ORDER_SCHEMA = {
  type: 'object',
  properties: {
    plan: { type: 'string' },
    amount: { type: 'number' },
    quantity: { type: 'integer' },
    gift: { type: ['boolean', 'null'] },
    paidAt: { type: 'string', format: 'date-time' },
    items: { type: 'array' },
    address: { type: 'object' },
    either: { type: ['string', 'integer'] },
    'with space': { type: 'string' },
    coupon: { enum: ['A', 'B'] },
  },
};

const columnsOf: ColumnsOf = (type) =>
  type === 'order.paid'
    ? columnsOfSchema(ORDER_SCHEMA)
    : type === 'signup'
      ? columnsOfSchema({
          properties: { plan: { type: 'string' }, quantity: { type: 'string' }, age: { type: 'integer' } },
        })
      : [];

function event(i: number, type: string, props: Record<string, unknown>): TrackedEvent {
  return { id: `e${i}`, type, ts: Date.UTC(2026, 11, 6, 22, 0, i), props, meta: {} };
}

async function encode(dir: string, events: TrackedEvent[], name: string): Promise<string> {
  const stage = join(dir, `${name}.ndjson`);
  writeFileSync(stage, events.map((e) => `${encodeJsonText(e)}\n`).join(''));
  const encoder = createEncoder('parquet', undefined, columnsOf);
  try {
    return await encoder.encode(
      stage,
      events.map((e) => e.type),
    );
  } finally {
    await encoder.close();
  }
}

describe('typed Parquet columns from JSON Schemas', () => {
  it('maps single JSON types to columns named props_<property> and leaves the rest in props', () => {
    assert.deepEqual(
      columnsOfSchema(ORDER_SCHEMA).map((c) => `${c.name} ${c.type}`),
      [
        'props_amount DOUBLE',
        'props_gift BOOLEAN',
        'props_paidAt TIMESTAMPTZ',
        'props_plan VARCHAR',
        'props_quantity BIGINT',
      ],
    );
    assert.deepEqual(columnsOfSchema({ type: 'object' }), []);
    assert.deepEqual(columnsOfSchema(true), []);
    assert.deepEqual(
      columnsOfSchema({
        properties: { plan: { type: 'string' }, Plan: { type: 'string' }, n: { type: 'integer' } },
      }).map((c) => c.name),
      ['props_n'],
      'names equal but for case get no column',
    );
  });

  it('gives an object of several types the union of their columns, without names they type differently', () => {
    const columns = objectColumns(['signup', 'order.paid', 'page.view'], columnsOf);
    assert.deepEqual(
      columns.map((c) => `${c.name} ${c.type} ${c.types.join('+')}`),
      [
        'props_age BIGINT signup',
        'props_amount DOUBLE order.paid',
        'props_gift BOOLEAN order.paid',
        'props_paidAt TIMESTAMPTZ order.paid',
        'props_plan VARCHAR order.paid+signup',
      ],
    );
  });

  it('writes the columns with their Parquet types; a value that does not fit is NULL there and kept in props', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-typed-'));
    try {
      const events = [
        event(0, 'order.paid', {
          plan: 'pro',
          amount: 12.5,
          quantity: 3,
          gift: true,
          paidAt: '2026-12-06T23:00:00+01:00',
          items: [1],
        }),
        event(1, 'order.paid', { plan: 7, amount: 'lots', quantity: 1.5, gift: 'yes', paidAt: 'yesterday' }),
        event(2, 'order.paid', { quantity: 1e3, amount: 4, extra: 'x' }),
        event(3, 'order.paid', { quantity: 9223372036854775808 }),
      ];
      const file = await encode(dir, events, 'one');
      assert.deepEqual((await parquetColumns(file)).slice(13), [
        ['props_amount', 'DOUBLE'],
        ['props_gift', 'BOOLEAN'],
        ['props_paidAt', 'TIMESTAMP WITH TIME ZONE'],
        ['props_plan', 'VARCHAR'],
        ['props_quantity', 'BIGINT'],
      ]);
      const rows = await parquetRows(
        file,
        `id, props_plan, props_amount, props_quantity, props_gift, epoch_ms(props_paidAt) AS paidAt, props::VARCHAR AS props`,
      );
      assert.deepEqual(
        rows.map((r) => [r.id, r.props_plan, r.props_amount, r.props_quantity, r.props_gift, r.paidAt]),
        [
          ['e0', 'pro', 12.5, 3n, true, BigInt(Date.UTC(2026, 11, 6, 22))],
          ['e1', null, null, null, null, null],
          ['e2', null, 4, 1000n, null, null],
          ['e3', null, null, null, null, null],
        ],
      );
      assert.deepEqual(
        rows.map((r) => JSON.parse(String(r.props)) as unknown),
        events.map((e) => e.props),
        'props keeps every property, typed or not',
      );
      // The same events give the same bytes (a redelivery overwrites an object with the same content).
      const again = await encode(dir, events, 'two');
      assert.equal(sha(readFileSync(again)), sha(readFileSync(file)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fills a column of a mixed object only from the types whose schema defines it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-typed-'));
    try {
      const file = await encode(
        dir,
        [
          event(0, 'order.paid', { plan: 'pro', age: 40, quantity: 2 }),
          event(1, 'signup', { plan: 'free', age: 30, quantity: 5 }),
          event(2, 'page.view', { plan: 'none', age: 20 }),
        ],
        'mixed',
      );
      assert.deepEqual(
        (await parquetColumns(file)).slice(13).map(([name]) => name),
        ['props_age', 'props_amount', 'props_gift', 'props_paidAt', 'props_plan'],
        'props_quantity is BIGINT for one type and VARCHAR for the other: no column',
      );
      const rows = await parquetRows(file, 'id, props_plan, props_age');
      assert.deepEqual(
        rows.map((r) => [r.id, r.props_plan, r.props_age]),
        [
          ['e0', 'pro', null],
          ['e1', 'free', 30n],
          ['e2', null, null],
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
