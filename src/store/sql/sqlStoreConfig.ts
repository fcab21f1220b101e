import { z } from 'zod';
import { duration } from '../../config/units.js';

/**
 * `store.type: postgres | mysql | clickhouse`: the query API reads the table a sink of the same
 * type writes. The store names that sink instead of repeating its table, column mapping and
 * connection, so the two can never disagree; what only reading needs (replicas, pool size,
 * timeouts) lives here.
 */

const sinkName = () =>
  z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'the name of a sink in this config (letters, digits, _ . -)');

/** Fields the PostgreSQL and MySQL stores share: both read through a writer plus replicas. */
function replicatedFields(url: { pattern: RegExp; expected: string }) {
  return {
    /** Name of the sink (of the same type) whose table, column mapping and connection the store reads. */
    sink: sinkName(),
    /**
     * Read-only replicas, as connection URLs. Reads go round-robin to the healthy ones and fall
     * back to the sink's connection (the writer) when none is healthy. A URL without user,
     * password or database takes the sink's. Credentials are redacted.
     */
    replicas: z.array(z.string().regex(url.pattern, url.expected)).max(32).default([]),
    /** Most open connections per server (the writer and each replica). */
    poolSize: z.number().int().min(1).max(200).default(10),
    /** Longest wait for one query; past it the connection is dropped and the query tried on the next server. */
    queryTimeout: duration().default(10_000),
    /** Longest wait to open a connection; past it the server counts as down for this query. */
    connectTimeout: duration().default(5000),
    /** How long a replica that failed stays out before it is probed again; doubles per failed probe. */
    replicaBackoff: duration().default(1000),
    /** Longest wait between probes of a replica that stays down. */
    replicaBackoffMax: duration().default(30_000),
  };
}

export const postgresStoreSchema = z.strictObject({
  type: z.literal('postgres'),
  ...replicatedFields({
    pattern: /^postgres(ql)?:\/\//,
    expected: 'a postgres:// or postgresql:// URL such as postgres://replica1.internal:5432',
  }),
});

export const mysqlStoreSchema = z.strictObject({
  type: z.literal('mysql'),
  ...replicatedFields({
    pattern: /^(mysql|mariadb):\/\//,
    expected: 'a mysql:// or mariadb:// URL such as mysql://replica1.internal:3306',
  }),
});

export const clickhouseStoreSchema = z.strictObject({
  type: z.literal('clickhouse'),
  /** Name of the clickhouse sink whose table, column mapping and server the store reads. */
  sink: sinkName(),
  /** Most concurrent HTTP connections to the server. */
  poolSize: z.number().int().min(1).max(200).default(10),
  /** Longest wait for one query (connect included). */
  queryTimeout: duration().default(10_000),
});

export type PostgresStoreConfig = z.output<typeof postgresStoreSchema>;
export type MysqlStoreConfig = z.output<typeof mysqlStoreSchema>;
export type ClickHouseStoreConfig = z.output<typeof clickhouseStoreSchema>;
export type SqlStoreConfig = PostgresStoreConfig | MysqlStoreConfig | ClickHouseStoreConfig;
