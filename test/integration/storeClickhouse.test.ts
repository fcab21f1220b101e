import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient, ClickHouseLogLevel } from '@clickhouse/client';
import { clickhouseConfigSchema } from '../../src/sinks/clickhouse/index.js';
import { ClickHouseSink } from '../../src/sinks/clickhouse/clickhouseSink.js';
import { clickhouseStoreSchema } from '../../src/store/sql/sqlStoreConfig.js';
import { freePort } from '../support/freePort.js';
import { startClickHouse } from '../support/clickhouseServer.js';
import { sqlStoreFixture } from '../support/sqlStoreFixture.js';
import { runStoreReaderChecks, storeEvents, T0 } from '../conformance/storeReader.js';

/**
 * `store.type: clickhouse` against a private ClickHouse server (Debian's 18.16) that this file
 * starts. Events go in through the real clickhouse sink; the suite writes part of them twice,
 * which on a ReplacingMergeTree leaves duplicate rows until a merge, so every count and list
 * here also checks that the reader collapses them. Everything lives in a database named after
 * this run, dropped with the server at the end.
 */
const RUN = randomUUID().slice(0, 8);
const DB = `beacon_store_${RUN}`;

const started = await startClickHouse();
if ('skip' in started) {
  console.log(started.skip);
  test('clickhouse store', { skip: started.skip }, () => {});
} else {
  const server = started;
  const admin = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
  await admin.command({ query: `CREATE DATABASE ${DB}` });
  const sinkConfig = (extra: Record<string, unknown>) =>
    clickhouseConfigSchema.parse({ type: 'clickhouse', name: 'events-ch', url: server.url, database: DB, ...extra });

  const { writeThroughSink, open } = sqlStoreFixture<ReturnType<typeof sinkConfig>>({
    type: 'clickhouse',
    storeSchema: clickhouseStoreSchema,
    newSink: (config, context) => new ClickHouseSink(config, context),
    cleanup: async () => {
      await admin.command({ query: `DROP DATABASE IF EXISTS ${DB}` }).catch(() => {});
      await admin.close();
      await server.stop();
    },
  });

  const rows = async (table: string) =>
    Number(
      (
        await (
          await admin.query({ query: `SELECT count() AS n FROM ${DB}.${table}`, format: 'JSONEachRow' })
        ).json<{ n: string }>()
      )[0]!.n,
    );

  const defaultLayout = sinkConfig({ table: 'events', createTable: true });
  runStoreReaderChecks('clickhouse', {
    write: (events) => writeThroughSink(defaultLayout, events),
    open: async () => {
      // The redelivered events are still there twice (no merge yet): the reader must count them once.
      assert.ok((await rows('events')) > storeEvents('x').length, 'the table holds duplicate rows to collapse');
      return open(defaultLayout);
    },
  });

  // A table of the user's own: a plain MergeTree (duplicates never collapse, so counts go by
  // distinct ids instead of FINAL), time as DateTime (whole seconds), other names, no meta.
  const custom = sinkConfig({
    table: `${DB}.custom`,
    columns: { event_id: 'id', kind: 'type', at: 'ts', payload: 'props' },
  });
  runStoreReaderChecks('clickhouse DateTime', {
    write: async (events) => {
      await admin.command({
        query: `CREATE TABLE IF NOT EXISTS ${DB}.custom (event_id String, kind String, at DateTime, payload String) ENGINE = MergeTree() ORDER BY (event_id)`,
      });
      await writeThroughSink(custom, events);
    },
    open: async () => open(custom),
    // The DateTime column keeps whole seconds; the suite's times are whole seconds but for the edges, which it also rounds.
    stored: (e) => ({ id: e.id, type: e.type, ts: Math.floor(e.ts / 1000) * 1000, props: e.props, meta: {} }),
  });

  describe('clickhouse store errors', () => {
    test('a table that does not exist yet answers BEACON_E_STORE_QUERY saying how to create it, then works once it does', async () => {
      const late = sinkConfig({ table: 'late', createTable: true });
      const reader = open(late);
      await assert.rejects(reader.recent({ limit: 3 }), {
        code: 'BEACON_E_STORE_QUERY',
        message: new RegExp(
          `table ${DB}\\.late does not exist \\(yet\\): the sink "events-ch" creates it when it has createTable: true`,
        ),
      });
      await writeThroughSink(late, storeEvents('late').slice(0, 5));
      assert.equal(await reader.countBetween(T0, T0 + 60_000), 5);
    });

    test('a server that is not there answers BEACON_E_STORE_UNAVAILABLE (503) naming it', async () => {
      const port = await freePort();
      const reader = open(sinkConfig({ url: `http://127.0.0.1:${port}`, table: 'events' }), { queryTimeout: '2s' });
      await assert.rejects(reader.countBetween(0, 1), (err: Error & { code?: string; status?: number }) => {
        assert.equal(err.code, 'BEACON_E_STORE_UNAVAILABLE');
        assert.equal(err.status, 503);
        assert.match(err.message, new RegExp(`writer 127\\.0\\.0\\.1:${port}/${DB}: .*ECONNREFUSED`));
        return true;
      });
    });
  });
}
