import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import type { TrackedEvent } from '../../../../src/event/trackedEvent.js';
import { createEncoder } from '../../../../src/sinks/s3/lakeEncoders.js';
import { columnsOfSchema } from '../../../../src/sinks/s3/typedColumns.js';
import { LakeWriter } from '../../../../src/sinks/s3/lakeWriter.js';
import { PlanJournal } from '../../../../src/sinks/s3/planJournal.js';

const DOC = readFileSync(fileURLToPath(new URL('../../../../docs/lake.md', import.meta.url)), 'utf8');

/** The first ```sql block under `heading` in docs/lake.md. */
function duckdbExample(heading = '### DuckDB'): string {
  const section = DOC.slice(DOC.indexOf(heading));
  const m = /```sql\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'docs/lake.md has a DuckDB example');
  return m[1]!;
}

describe('docs/lake.md', () => {
  it('answers its DuckDB example from a lake the sink wrote, with the right counts per type', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-lake-docs-'));
    try {
      const start = Date.UTC(2026, 11, 6, 21, 30);
      const events: TrackedEvent[] = Array.from({ length: 600 }, (_, i) => ({
        id: `d${i}`,
        type: ['page.view', 'order.paid', 'signup'][i % 3]!,
        // 21:30 to 00:30 UTC: hours 21, 22, 23 on the 6th and 00 on the 7th.
        ts: start + i * 18_000,
        partyId: `u${i % 11}`,
        props: { i },
        meta: {},
      }));
      const journal = await PlanJournal.open(join(dir, 'state', 'plans.jsonl'));
      const writer = new LakeWriter({
        prefix: 'events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/',
        roll: { maxBytes: 1 << 30, maxEvents: 250, maxAge: 60_000 },
        stageDir: join(dir, 'state', 'stage'),
        journal,
        encoder: createEncoder('parquet', 'zstd'),
        target: {
          put: async (key, path) => {
            const to = join(dir, 'lake', key);
            mkdirSync(dirname(to), { recursive: true });
            copyFileSync(path, to);
          },
        },
        clock: { now: () => start, sleep: async () => {} },
      });
      await writer.reset();
      await writer.take(
        events,
        events.map((_, i) => ({ partition: 'p0', seq: i })),
        { p0: events.length },
      );
      await writer.flush(true);

      const sql = duckdbExample().replace("'lake/", `'${dir}/lake/`);
      const instance = await DuckDBInstance.create(':memory:');
      const c = await instance.connect();
      const rows = (await c.runAndReadAll(sql)).getRowObjectsJS();
      c.closeSync();
      instance.closeSync();

      const inRange = events.filter((e) => {
        const d = new Date(e.ts);
        return d.getUTCDate() === 6 && d.getUTCHours() >= 22 && d.getUTCHours() <= 23;
      });
      const expected = [...new Set(inRange.map((e) => e.type))].sort().map((type) => {
        const of = inRange.filter((e) => e.type === type);
        return { type, events: BigInt(of.length), parties: BigInt(new Set(of.map((e) => e.partyId)).size) };
      });
      assert.deepEqual(rows, expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers its typed-columns example from typed columns the sink wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-lake-docs-'));
    try {
      const start = Date.UTC(2026, 11, 5, 23);
      const events: TrackedEvent[] = Array.from({ length: 90 }, (_, i) => ({
        id: `o${i}`,
        type: 'order.paid',
        ts: start,
        // Paid from 23:00 on the 5th, one a minute: the first 60 before the 6th.
        props: { plan: ['free', 'pro'][i % 2]!, amount: i, paidAt: new Date(start + i * 60_000).toISOString() },
        meta: {},
      }));
      const schema = {
        type: 'object',
        properties: {
          plan: { type: 'string' },
          amount: { type: 'number' },
          paidAt: { type: 'string', format: 'date-time' },
        },
      };
      const journal = await PlanJournal.open(join(dir, 'state', 'plans.jsonl'));
      const writer = new LakeWriter({
        prefix: 'events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/',
        roll: { maxBytes: 1 << 30, maxEvents: 1000, maxAge: 60_000 },
        stageDir: join(dir, 'state', 'stage'),
        journal,
        encoder: createEncoder('parquet', 'zstd', (type) => (type === 'order.paid' ? columnsOfSchema(schema) : [])),
        target: {
          put: async (key, path) => {
            const to = join(dir, 'lake', key);
            mkdirSync(dirname(to), { recursive: true });
            copyFileSync(path, to);
          },
        },
        clock: { now: () => start, sleep: async () => {} },
      });
      await writer.reset();
      await writer.take(
        events,
        events.map((_, i) => ({ partition: 'p0', seq: i })),
        { p0: events.length },
      );
      await writer.flush(true);

      const sql = duckdbExample('### Typed columns').replace("'lake/", `'${dir}/lake/`);
      const instance = await DuckDBInstance.create(':memory:');
      const c = await instance.connect();
      const rows = (await c.runAndReadAll(`${sql.trim().replace(/;$/, '')} ORDER BY props_plan`)).getRowObjectsJS();
      c.closeSync();
      instance.closeSync();
      const paid = events.slice(60);
      assert.deepEqual(
        rows,
        ['free', 'pro'].map((plan) => ({
          props_plan: plan,
          revenue: paid.filter((e) => e.props.plan === plan).reduce((sum, e) => sum + Number(e.props.amount), 0),
        })),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
