import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { BeaconError } from '../../errors/beaconError.js';
import { clickhouseConfigSchema } from '../../sinks/clickhouse/index.js';
import { mysqlConfigSchema } from '../../sinks/mysql/index.js';
import { postgresConfigSchema } from '../../sinks/postgres/index.js';
import { openClickHouseStore } from './clickhouse/clickhouseStore.js';
import { openMysqlStore } from './mysql/mysqlStore.js';
import { openPostgresStore } from './postgres/postgresStore.js';
import { clickhouseStoreSchema, mysqlStoreSchema, postgresStoreSchema, type SqlStoreConfig } from './sqlStoreConfig.js';
import type { SqlStoreReader } from './sqlStoreReader.js';
import { storeMetrics } from './storeMetrics.js';
import { storeColumns, storeSinkProblem } from './storeSink.js';
import type { ReadTarget } from './replicaSet.js';

export type { SqlStoreConfig, PostgresStoreConfig, MysqlStoreConfig, ClickHouseStoreConfig } from './sqlStoreConfig.js';
export type { TargetHealth } from './replicaSet.js';
export type { SqlStoreReader } from './sqlStoreReader.js';

/** One strict schema per SQL store type, for the `store` discriminated union in the config schema. */
export const SQL_STORE_SCHEMAS = [postgresStoreSchema, mysqlStoreSchema, clickhouseStoreSchema] as const;

export const SQL_STORE_TYPES = ['postgres', 'mysql', 'clickhouse'] as const;

export interface SqlStoreContext {
  /** The config's sinks: the store reads the table of the one `store.sink` names. */
  sinks: readonly unknown[];
  logger: Logger;
  /** Where the beacon_store_* metrics go (the process's /metrics registry); a private one when absent. */
  registry?: Registry;
}

const SINK_SCHEMAS = {
  postgres: postgresConfigSchema,
  mysql: mysqlConfigSchema,
  clickhouse: clickhouseConfigSchema,
} as const;

/**
 * The StoreReader for `store.type: postgres | mysql | clickhouse`. Opening connects to
 * nothing: the pools connect on the first query, so the API starts while the database is
 * still coming up and answers 503 (BEACON_E_STORE_UNAVAILABLE) until it is there. Throws
 * BEACON_E_CONFIG_FIELD when `store.sink` cannot be read from.
 */
export function openSqlStoreReader(store: SqlStoreConfig, context: SqlStoreContext): SqlStoreReader<ReadTarget> {
  const sinks = context.sinks as readonly { name?: unknown; type?: unknown; columns?: unknown }[];
  const problem = storeSinkProblem(store, sinks);
  if (problem) {
    const field = problem.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${p}`)).join('');
    throw new BeaconError('BEACON_E_CONFIG_FIELD', `invalid config:\n  - ${field}: ${problem.message}`, {
      field,
      problems: [problem.message],
    });
  }
  const raw = sinks.find((s) => s.name === store.sink)!;
  const deps = {
    logger: context.logger.child({ store: store.type, sink: store.sink }),
    metrics: storeMetrics(context.registry),
  };
  switch (store.type) {
    case 'postgres': {
      const sink = SINK_SCHEMAS.postgres.parse(raw);
      return openPostgresStore(store, sink, storeColumns(sink.columns), deps);
    }
    case 'mysql': {
      const sink = SINK_SCHEMAS.mysql.parse(raw);
      return openMysqlStore(store, sink, storeColumns(sink.columns), deps);
    }
    case 'clickhouse': {
      const sink = SINK_SCHEMAS.clickhouse.parse(raw);
      return openClickHouseStore(store, sink, storeColumns(sink.columns), deps);
    }
  }
}

/**
 * The whole-config check (for `configSchema.superRefine`): a SQL store must name a sink of its
 * type whose mapping holds the columns the queries read. Other store types pass.
 */
export function refineSqlStore(config: { store?: unknown; sinks?: readonly unknown[] }, ctx: z.RefinementCtx): void {
  const store = config.store as { type?: unknown; sink?: unknown } | undefined;
  if (!store || !(SQL_STORE_TYPES as readonly unknown[]).includes(store.type) || typeof store.sink !== 'string') return;
  const problem = storeSinkProblem(
    { type: String(store.type), sink: store.sink },
    (config.sinks ?? []) as readonly { name?: unknown; type?: unknown; columns?: unknown }[],
  );
  if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
}
