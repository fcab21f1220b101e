import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../src/config/load.js';
import { redactConfig } from '../../../src/config/redact.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { postgresConfigSchema } from '../../../src/sinks/postgres/index.js';
import { mysqlConfigSchema } from '../../../src/sinks/mysql/index.js';
import { openSqlStoreReader } from '../../../src/store/sql/index.js';
import { replicaServer as pgReplica, sinkServer as pgSink } from '../../../src/store/sql/postgres/postgresStore.js';
import { replicaServer as mysqlReplica, sinkServer as mysqlSink } from '../../../src/store/sql/mysql/mysqlStore.js';
import { postgresStoreSchema } from '../../../src/store/sql/sqlStoreConfig.js';

/** `store.type: postgres | mysql | clickhouse` as a user writes it: what loads, what is refused and with which words. */
const warehouse = {
  name: 'warehouse',
  type: 'postgres',
  host: 'db.internal',
  user: 'beacon',
  password: 'secret',
  database: 'analytics',
  table: 'events',
};

function problems(raw: Record<string, unknown>): string {
  try {
    validateConfig(raw);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'BEACON_E_CONFIG_FIELD');
    return (err as Error).message;
  }
  assert.fail('the config loaded');
}

describe('SQL store config', () => {
  it('loads a store naming a sink of its type, with documented defaults', () => {
    const config = validateConfig({
      sinks: [warehouse],
      store: { type: 'postgres', sink: 'warehouse', replicas: ['postgres://replica1.internal'] },
    });
    assert.deepEqual(config.store, {
      type: 'postgres',
      sink: 'warehouse',
      replicas: ['postgres://replica1.internal'],
      poolSize: 10,
      queryTimeout: 10_000,
      connectTimeout: 5000,
      replicaBackoff: 1000,
      replicaBackoffMax: 30_000,
    });
    const ch = validateConfig({
      sinks: [{ name: 'ch', type: 'clickhouse', table: 'events' }],
      store: { type: 'clickhouse', sink: 'ch', queryTimeout: '30s' },
    });
    assert.deepEqual(ch.store, { type: 'clickhouse', sink: 'ch', poolSize: 10, queryTimeout: 30_000 });
  });

  it('refuses a store.sink that names no sink, listing the sinks of its type', () => {
    assert.match(
      problems({ sinks: [warehouse], store: { type: 'postgres', sink: 'warehous' } }),
      /store\.sink: store\.sink "warehous" names no sink; postgres sinks here: warehouse/,
    );
    assert.match(
      problems({ sinks: [{ name: 'out', type: 'file', path: '/tmp/x' }], store: { type: 'mysql', sink: 'db' } }),
      /store\.sink "db" names no sink; add a mysql sink named "db" \(the store reads the table it writes\)/,
    );
  });

  it('refuses a sink of another type, saying which', () => {
    assert.match(
      problems({ sinks: [warehouse], store: { type: 'mysql', sink: 'warehouse' } }),
      /store\.sink "warehouse" is a postgres sink but store\.type is mysql: name a mysql sink, or set store\.type to match/,
    );
  });

  it('refuses a sink whose columns leave out what the queries read, naming the columns to add', () => {
    const message = problems({
      sinks: [{ ...warehouse, columns: { event_id: 'id', kind: 'type', plan: 'props.plan' } }],
      store: { type: 'postgres', sink: 'warehouse' },
    });
    assert.match(
      message,
      /sinks\[0\]\.columns: sink "warehouse" maps no column to ts, props, which the query API reads: add ts: ts, props: props to its columns/,
    );
  });

  it("refuses replicas that are not URLs of the store's kind, and unknown keys", () => {
    assert.match(
      problems({ sinks: [warehouse], store: { type: 'postgres', sink: 'warehouse', replicas: ['mysql://r1'] } }),
      /store\.replicas\[0\]: a postgres:\/\/ or postgresql:\/\/ URL/,
    );
    assert.throws(
      () =>
        validateConfig({
          sinks: [warehouse],
          store: { type: 'postgres', sink: 'warehouse', replica: ['postgres://r1'] },
        }),
      /store\.replica: unknown key; did you mean replicas\?/,
    );
    assert.throws(
      () =>
        validateConfig({
          sinks: [{ name: 'ch', type: 'clickhouse', table: 'events' }],
          store: { type: 'clickhouse', sink: 'ch', replicas: ['http://r1:8123'] },
        }),
      /store\.replicas: unknown key/,
    );
  });

  it('redacts passwords in replica URLs', () => {
    const config = validateConfig({
      sinks: [warehouse],
      store: {
        type: 'postgres',
        sink: 'warehouse',
        replicas: ['postgres://reader:hunter2@replica1.internal/analytics'],
      },
    });
    const shown = JSON.stringify(redactConfig(config));
    assert.ok(!shown.includes('hunter2') && shown.includes('postgres://reader:***@replica1.internal/analytics'));
  });

  it('refuses to open a reader for a config built in code that names no sink, with the same words', () => {
    assert.throws(
      () =>
        openSqlStoreReader(postgresStoreSchema.parse({ type: 'postgres', sink: 'nope' }), {
          sinks: [postgresConfigSchema.parse(warehouse)],
          logger: silentLogger,
        }),
      {
        code: 'BEACON_E_CONFIG_FIELD',
        message: /store\.sink: store\.sink "nope" names no sink; postgres sinks here: warehouse/,
      },
    );
  });

  it('fills what a replica URL leaves out (user, password, database) from the sink, and keeps what it gives', () => {
    const writer = pgSink(postgresConfigSchema.parse(warehouse));
    const bare = pgReplica('postgres://replica1.internal:6432', writer);
    assert.deepEqual(
      { ...bare, url: undefined },
      {
        host: 'replica1.internal',
        port: 6432,
        user: 'beacon',
        password: 'secret',
        database: 'analytics',
        url: undefined,
      },
    );
    assert.equal(bare.url, 'postgres://beacon:secret@replica1.internal:6432/analytics');
    const own = pgReplica('postgres://reader:pw@replica2.internal/other?sslmode=require', writer);
    assert.deepEqual(
      [own.user, own.password, own.database, own.port, own.url],
      ['reader', 'pw', 'other', 5432, 'postgres://reader:pw@replica2.internal/other?sslmode=require'],
    );

    const mysqlWriter = mysqlSink(
      mysqlConfigSchema.parse({
        name: 'm',
        type: 'mysql',
        url: 'mysql://beacon:s%40cret@db.internal:3307/analytics',
        table: 'events',
      }),
    );
    assert.deepEqual(mysqlWriter, {
      host: 'db.internal',
      port: 3307,
      user: 'beacon',
      password: 's@cret',
      database: 'analytics',
    });
    assert.deepEqual(mysqlReplica('mysql://replica1.internal', mysqlWriter), {
      host: 'replica1.internal',
      port: 3306,
      user: 'beacon',
      password: 's@cret',
      database: 'analytics',
    });
    assert.deepEqual(mysqlReplica('mariadb://reader@replica2.internal:3308/', mysqlWriter), {
      host: 'replica2.internal',
      port: 3308,
      user: 'reader',
      password: '',
      database: 'analytics',
    });
  });
});
