import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { mysqlConfigSchema } from '../../src/sinks/mysql/index.js';
import { MysqlSink } from '../../src/sinks/mysql/mysqlSink.js';
import { mysqlStoreSchema } from '../../src/store/sql/sqlStoreConfig.js';
import { freePort } from '../support/freePort.js';
import { sqlStoreFixture } from '../support/sqlStoreFixture.js';
import { runStoreReaderChecks, storeEvents, T0 } from '../conformance/storeReader.js';

/**
 * `store.type: mysql` against the machine's MariaDB (127.0.0.1:3306, root, database `test`):
 * events go in through the real mysql sink, the reader reads them back. Tables are named after
 * this run and dropped at the end.
 */
const admin = mysql.createPool({
  host: '127.0.0.1',
  port: 3306,
  user: 'root',
  password: '',
  database: 'test',
  timezone: 'Z',
  connectionLimit: 2,
});

const sinkConfig = (extra: Record<string, unknown>) =>
  mysqlConfigSchema.parse({
    type: 'mysql',
    name: 'metrics-db',
    host: '127.0.0.1',
    port: 3306,
    user: 'root',
    database: 'test',
    ...extra,
  });

const { table, writeThroughSink, open } = sqlStoreFixture<ReturnType<typeof sinkConfig>>({
  type: 'mysql',
  storeSchema: mysqlStoreSchema,
  newSink: (config, context) => new MysqlSink(config, context),
  cleanup: async (tables) => {
    for (const t of tables) await admin.query(`DROP TABLE IF EXISTS \`${t}\``).catch(() => {});
    await admin.end();
  },
});

const defaultLayout = sinkConfig({ table: table('default'), createTable: true });
runStoreReaderChecks('mysql', {
  write: (events) => writeThroughSink(defaultLayout, events),
  open: async () => open(defaultLayout),
});

// A table of the user's own: other names, time as BIGINT epoch ms, a case-folding collation.
const customTable = table('custom');
const custom = mysqlConfigSchema.parse({
  type: 'mysql',
  name: 'metrics-db',
  url: 'mysql://root@127.0.0.1:3306/test',
  table: `test.${customTable}`,
  columns: { event_id: 'id', kind: 'type', at_ms: 'ts', payload: 'props', meta: 'meta' },
});
runStoreReaderChecks('mysql custom columns', {
  write: async (events) => {
    await admin.query(
      `CREATE TABLE IF NOT EXISTS \`${customTable}\` (event_id VARCHAR(255) NOT NULL PRIMARY KEY, kind VARCHAR(64) NOT NULL, at_ms BIGINT NOT NULL, payload JSON NOT NULL, meta JSON NOT NULL, KEY by_kind (kind)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`,
    );
    await writeThroughSink(custom, events);
  },
  open: async () => open(custom),
  stored: (e) => ({ id: e.id, type: e.type, ts: e.ts, props: e.props, meta: e.meta }),
});

describe('mysql store errors', () => {
  test('a table that does not exist yet answers BEACON_E_STORE_QUERY saying how to create it, then works once it does', async () => {
    const late = sinkConfig({ table: table('late'), createTable: true });
    const reader = open(late);
    await assert.rejects(reader.topValues({ prop: 'plan', from: 0, to: 1, limit: 3 }), {
      code: 'BEACON_E_STORE_QUERY',
      message:
        /table beacon_store_\w+_late does not exist \(yet\): the sink "metrics-db" creates it when it has createTable: true/,
    });
    await writeThroughSink(late, storeEvents('late').slice(0, 5));
    assert.equal(await reader.countBetween(T0, T0 + 60_000), 5);
  });

  test('a server that is not there answers BEACON_E_STORE_UNAVAILABLE (503) naming it', async () => {
    const port = await freePort();
    const reader = open(sinkConfig({ port, table: 'events' }), { connectTimeout: '1s' });
    await assert.rejects(reader.countBetween(0, 1), (err: Error & { code?: string; status?: number }) => {
      assert.equal(err.code, 'BEACON_E_STORE_UNAVAILABLE');
      assert.equal(err.status, 503);
      assert.match(err.message, new RegExp(`writer 127\\.0\\.0\\.1:${port}/test: .*ECONNREFUSED`));
      return true;
    });
  });

  test("a wrong password is reported as unavailable with the server's words", async () => {
    const reader = open(sinkConfig({ user: 'no_such_user', password: 'x', table: 'events' }));
    await assert.rejects(reader.countBetween(0, 1), {
      code: 'BEACON_E_STORE_UNAVAILABLE',
      message: /Access denied for user 'no_such_user'/,
    });
  });

  test('a query past queryTimeout is given up on and the pool stays usable', async () => {
    const slow = sinkConfig({ table: table('slow'), createTable: true });
    await writeThroughSink(slow, storeEvents('slow').slice(0, 3));
    const reader = open(slow, { queryTimeout: '300ms' });
    assert.equal(await reader.countBetween(T0, T0 + 60_000), 3);
    const locker = await admin.getConnection();
    try {
      // A write lock makes the next read wait past its deadline.
      await locker.query(`LOCK TABLES \`${slow.table}\` WRITE`);
      const begun = Date.now();
      await assert.rejects(reader.countBetween(T0, T0 + 60_000), {
        code: 'BEACON_E_STORE_TIMEOUT',
        message: /no answer within 300 ms/,
      });
      assert.ok(Date.now() - begun < 3000, 'the deadline holds');
    } finally {
      await locker.query('UNLOCK TABLES');
      locker.release();
    }
    assert.equal(await reader.countBetween(T0, T0 + 60_000), 3);
  });
});
