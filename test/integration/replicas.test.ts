import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Registry } from 'prom-client';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import { postgresConfigSchema } from '../../src/sinks/postgres/index.js';
import { PostgresSink } from '../../src/sinks/postgres/postgresSink.js';
import { openSqlStoreReader, type SqlStoreReader } from '../../src/store/sql/index.js';
import { postgresStoreSchema } from '../../src/store/sql/sqlStoreConfig.js';
import { startPgReplication, type PgReplication } from '../support/pgReplication.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * Read replicas with real streaming replication: a private PostgreSQL primary and a replica
 * made from it with pg_basebackup (test/support/pgReplication.ts). The postgres sink writes to
 * the primary; the store reads with the primary as writer and the replica in `replicas`.
 *
 * A streaming replica is an exact copy, so "served by the replica" is shown by what only the
 * serving side can tell: the store's per-server query counter, and the store's own
 * connections in each server's pg_stat_activity (named by application_name).
 */
const T = 1_700_000_000_000;
let cluster: PgReplication;
let reader: SqlStoreReader;
const registry = new Registry();
let sinkConfig: ReturnType<typeof postgresConfigSchema.parse>;

const events = (from: number, n: number): TrackedEvent[] =>
  Array.from({ length: n }, (_, k) => ({
    id: `r-${String(from + k).padStart(4, '0')}`,
    type: 'page.view',
    ts: T + (from + k) * 1000,
    props: { n: from + k },
    meta: {},
  }));

async function write(batch: TrackedEvent[]): Promise<void> {
  const sink = new PostgresSink(sinkConfig, { name: sinkConfig.name, logger: silentLogger });
  await sink.open();
  try {
    await sink.deliver(batch);
  } finally {
    await sink.close();
  }
}

/** Queries answered per role so far (ok and failed). */
async function served(): Promise<{ replicaOk: number; replicaFailed: number; writerOk: number; writerFailed: number }> {
  const values = (await registry.getSingleMetric('beacon_store_queries_total')!.get()).values;
  const sum = (role: string, outcome: string) =>
    values.filter((v) => v.labels.role === role && v.labels.outcome === outcome).reduce((n, v) => n + v.value, 0);
  return {
    replicaOk: sum('replica', 'ok'),
    replicaFailed: sum('replica', 'failed'),
    writerOk: sum('writer', 'ok'),
    writerFailed: sum('writer', 'failed'),
  };
}

async function replicaUp(): Promise<number | undefined> {
  return (await registry.getSingleMetric('beacon_store_replica_up')!.get()).values[0]?.value;
}

/** The store's connections on one server, by the role in their application_name. */
async function storeConnections(port: number): Promise<string[]> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "SELECT application_name AS name FROM pg_stat_activity WHERE application_name LIKE 'beacon store %' ORDER BY 1",
    );
    return rows.map((r) => r.name);
  } finally {
    await client.end();
  }
}

async function replicaCount(port: number): Promise<number> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM beacon_events');
    return Number(rows[0]!.n);
  } catch {
    return -1; // the table has not replicated yet
  } finally {
    await client.end();
  }
}

describe('postgres store with a streaming read replica', { timeout: 90_000 }, () => {
  before(async () => {
    cluster = await startPgReplication();
    sinkConfig = postgresConfigSchema.parse({
      type: 'postgres',
      name: 'primary-db',
      host: '127.0.0.1',
      port: cluster.primary.port,
      user: 'postgres',
      database: 'postgres',
      table: 'beacon_events',
      createTable: true,
    });
    reader = openSqlStoreReader(
      postgresStoreSchema.parse({
        type: 'postgres',
        sink: 'primary-db',
        replicas: [`postgres://127.0.0.1:${cluster.replica.port}`],
        replicaBackoff: '200ms',
        replicaBackoffMax: '1s',
        connectTimeout: '1s',
        queryTimeout: '3s',
      }),
      { sinks: [sinkConfig], logger: silentLogger, registry },
    );
  });

  after(async () => {
    await reader?.close();
    await cluster?.teardown();
  });

  test('events the sink writes to the primary are read back from the replica, and only from it', async () => {
    await write(events(0, 20));
    await waitUntil(
      'the replica to hold the first 20 events',
      async () => (await replicaCount(cluster.replica.port)) === 20,
    );
    for (let i = 0; i < 10; i++) assert.equal(await reader.countBetween(T, T + 3_600_000), 20);
    assert.deepEqual(await reader.byId('r-0007'), events(7, 1)[0]);
    const after20 = await served();
    assert.equal(after20.writerOk + after20.writerFailed, 0, 'the writer answered nothing');
    assert.equal(after20.replicaOk, 12, 'the table description, ten counts and one lookup, all on the replica');
    assert.deepEqual(await storeConnections(cluster.primary.port), []);
    assert.ok(
      (await storeConnections(cluster.replica.port)).every((name) => name === 'beacon store primary-db (replica)'),
    );
    assert.ok((await storeConnections(cluster.replica.port)).length >= 1);

    // New events reach the reader through replication.
    await write(events(20, 5));
    await waitUntil(
      'the replica to stream the next 5 events',
      async () => (await reader.countBetween(T, T + 3_600_000)) === 25,
    );
    assert.equal((await reader.recent({ limit: 1 }))[0]?.id, 'r-0024');
    assert.equal((await served()).writerOk, 0);
  });

  test('with the replica stopped, every read is answered by the writer; once it is back, reads return to it', async (t) => {
    await cluster.replica.stop('immediate');
    const begun = Date.now();
    // Concurrent reads while the replica dies under them: none may fail.
    const answers = await Promise.all(Array.from({ length: 12 }, () => reader.countBetween(T, T + 3_600_000)));
    assert.deepEqual(answers, Array(12).fill(25));
    t.diagnostic(`12 concurrent reads across the replica's crash took ${Date.now() - begun} ms`);
    const down = await served();
    assert.ok(down.writerOk >= 12, `the writer answered the reads (${down.writerOk})`);
    assert.ok(down.replicaFailed >= 1, 'the replica failed at least the read that found it gone');
    assert.equal(await replicaUp(), 0);
    assert.deepEqual(
      reader.health().map((h) => [h.role, h.up]),
      [
        ['writer', true],
        ['replica', false],
      ],
    );
    assert.ok(
      (await storeConnections(cluster.primary.port)).every((name) => name === 'beacon store primary-db (writer)'),
    );

    // While it stays down, reads go straight to the writer: no read waits on the dead replica.
    const before = await served();
    for (let i = 0; i < 5; i++) assert.equal(await reader.countBetween(T, T + 3_600_000), 25);
    const during = await served();
    assert.equal(during.writerOk - before.writerOk, 5);
    assert.equal(during.replicaOk, before.replicaOk);

    await cluster.replica.start();
    const restarted = Date.now();
    await waitUntil('a probe to put the replica back', async () => (await replicaUp()) === 1, 10_000);
    t.diagnostic(`replica back in the rotation ${Date.now() - restarted} ms after pg_ctl start returned`);
    const back = await served();
    for (let i = 0; i < 5; i++) assert.equal(await reader.countBetween(T, T + 3_600_000), 25);
    const after = await served();
    assert.equal(after.replicaOk - back.replicaOk, 5, 'reads are served by the replica again');
    assert.equal(after.writerOk, back.writerOk, 'and no longer by the writer');
  });
});
