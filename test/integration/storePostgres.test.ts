import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Registry } from 'prom-client';
import { postgresConfigSchema } from '../../src/sinks/postgres/index.js';
import { PostgresSink } from '../../src/sinks/postgres/postgresSink.js';
import { postgresStoreSchema } from '../../src/store/sql/sqlStoreConfig.js';
import { freePort } from '../support/freePort.js';
import { sqlStoreFixture } from '../support/sqlStoreFixture.js';
import { runStoreReaderChecks, storeEvents, T0 } from '../conformance/storeReader.js';

/**
 * `store.type: postgres` against the machine's PostgreSQL (127.0.0.1:5432, database `test`):
 * events go in through the real postgres sink, the reader reads them back. Tables are named
 * after this run and dropped at the end.
 */
const admin = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 2 });

const sinkConfig = (extra: Record<string, unknown>) =>
  postgresConfigSchema.parse({
    type: 'postgres',
    name: 'warehouse',
    host: '127.0.0.1',
    port: 5432,
    user: 'postgres',
    database: 'test',
    ...extra,
  });

const { table, writeThroughSink, open } = sqlStoreFixture<ReturnType<typeof sinkConfig>>({
  type: 'postgres',
  storeSchema: postgresStoreSchema,
  newSink: (config, context) => new PostgresSink(config, context),
  cleanup: async (tables) => {
    for (const t of tables) await admin.query(`DROP TABLE IF EXISTS public."${t}"`).catch(() => {});
    await admin.end();
  },
});

const defaultLayout = sinkConfig({ table: `public.${table('default')}`, createTable: true });
runStoreReaderChecks('postgres', {
  write: (events) => writeThroughSink(defaultLayout, events),
  open: async () => open(defaultLayout),
});

// A table of the user's own: other column names, time as bigint epoch ms, props as json.
const customTable = table('custom');
const custom = sinkConfig({
  table: customTable,
  columns: { event_id: 'id', kind: 'type', at_ms: 'ts', payload: 'props', plan: 'props.plan' },
});
runStoreReaderChecks('postgres custom columns', {
  write: async (events) => {
    await admin.query(
      `CREATE TABLE IF NOT EXISTS public."${customTable}" (event_id text PRIMARY KEY, kind text NOT NULL, at_ms bigint NOT NULL, payload json NOT NULL, plan text)`,
    );
    await writeThroughSink(custom, events);
  },
  open: async () => open(custom),
  // Only id, type, ts and props have columns: the rest comes back absent, meta empty.
  stored: (e) => ({ id: e.id, type: e.type, ts: e.ts, props: e.props, meta: {} }),
});

describe('postgres store errors', () => {
  test('a table that does not exist yet answers BEACON_E_STORE_QUERY saying how to create it, then works once it does', async () => {
    const late = sinkConfig({ table: table('late'), createTable: true });
    const reader = open(late);
    await assert.rejects(reader.countBetween(0, 1), (err: Error & { code?: string; status?: number }) => {
      assert.equal(err.code, 'BEACON_E_STORE_QUERY');
      assert.equal(err.status, 500);
      assert.match(
        err.message,
        /table beacon_store_\w+_late does not exist \(yet\): the sink "warehouse" creates it when it has createTable: true/,
      );
      return true;
    });
    await writeThroughSink(late, storeEvents('late').slice(0, 5));
    assert.equal(await reader.countBetween(T0, T0 + 60_000), 5);
  });

  test('a column of the wrong type is named with what the store reads', async () => {
    const name = table('texttime');
    await admin.query(`CREATE TABLE public."${name}" (id text PRIMARY KEY, type text, ts text, props jsonb)`);
    const reader = open(sinkConfig({ table: name, columns: { id: 'id', type: 'type', ts: 'ts', props: 'props' } }));
    await assert.rejects(reader.recent({ limit: 1 }), {
      code: 'BEACON_E_STORE_QUERY',
      message:
        /column ts of beacon_store_\w+_texttime is text; the query API reads times from timestamptz, timestamp \(UTC\) or bigint epoch ms/,
    });
  });

  test('a server that is not there answers BEACON_E_STORE_UNAVAILABLE (503) naming it, and counts the failure', async () => {
    const port = await freePort();
    const registry = new Registry();
    const reader = open(sinkConfig({ port, table: 'events' }), { connectTimeout: '1s' }, registry);
    await assert.rejects(reader.countBetween(0, 1), (err: Error & { code?: string; status?: number }) => {
      assert.equal(err.code, 'BEACON_E_STORE_UNAVAILABLE');
      assert.equal(err.status, 503);
      assert.match(err.message, new RegExp(`writer 127\\.0\\.0\\.1:${port}/test: .*ECONNREFUSED`));
      return true;
    });
    const failed = (await registry.getSingleMetric('beacon_store_queries_total')!.get()).values.find(
      (v) => v.labels.outcome === 'failed',
    );
    assert.deepEqual(failed?.labels, { role: 'writer', target: `127.0.0.1:${port}/test`, outcome: 'failed' });
  });

  test('a statement past queryTimeout is cancelled and reported as a timeout (504), and the pool stays usable', async () => {
    const slow = sinkConfig({ table: `public.${table('slow')}`, createTable: true });
    await writeThroughSink(slow, storeEvents('slow').slice(0, 3));
    const reader = open(slow, { queryTimeout: '300ms' });
    assert.equal(await reader.countBetween(T0, T0 + 60_000), 3);
    const locker = await admin.connect();
    try {
      // An exclusive lock makes the next read wait past its deadline.
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${slow.table} IN ACCESS EXCLUSIVE MODE`);
      const begun = Date.now();
      await assert.rejects(reader.countBetween(T0, T0 + 60_000), {
        code: 'BEACON_E_STORE_TIMEOUT',
        message: /canceling statement due to statement timeout|no answer within/,
      });
      assert.ok(Date.now() - begun < 3000, 'the deadline holds');
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    assert.equal(await reader.countBetween(T0, T0 + 60_000), 3);
  });
});
