import { z } from 'zod';
import { duration } from '../../config/units.js';
import type { SinkDefinition } from '../sink.js';
import { batchWithDefaults, sinkConfigSchema } from '../sinkConfig.js';
import { columnsOption, tableName } from '../sqlColumns.js';
import { ClickHouseSink } from './clickhouseSink.js';

/** The clickhouse sink's batching defaults: a few INSERTs per second at most, thousands of rows each. */
export const CLICKHOUSE_BATCH = { maxEvents: 10_000, maxWaitMs: 1000 };

export const clickhouseConfigSchema = sinkConfigSchema('clickhouse', {
  /** The server's HTTP interface, e.g. http://clickhouse.internal:8123 (https:// for TLS). Redacted. */
  url: z
    .string()
    .regex(
      /^https?:\/\/[^/\s]+(\/\S*)?$/,
      'an http:// or https:// URL of the HTTP interface, such as http://clickhouse.internal:8123',
    )
    .default('http://localhost:8123'),
  user: z.string().min(1).default('default'),
  /** Redacted by check-config and the admin API. */
  password: z.string().default(''),
  /** Database of `table` when the table name has no `database.` prefix. */
  database: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a database name (letters, digits, _)')
    .default('default'),
  table: tableName(),
  /** CREATE DATABASE / TABLE IF NOT EXISTS at open (a ReplacingMergeTree ordered by the id). */
  createTable: z.boolean().default(false),
  /** `{ <column>: <event field or props.x / meta.x> }`; replaces the default mapping. */
  columns: columnsOption(),
  /** Longest wait for one HTTP request (connect included) and the loop's attempt deadline; past it the batch is retried. */
  requestTimeoutMs: duration().default(30_000),
  /**
   * Larger than other sinks' defaults (500 events, 200 ms): every INSERT makes a part that
   * ClickHouse writes and merges later, so rows/s grows with the batch (docs/performance.md).
   */
  batch: batchWithDefaults(CLICKHOUSE_BATCH).prefault({}),
});

export type ClickHouseSinkConfig = z.output<typeof clickhouseConfigSchema>;

/** `clickhouse`: one `INSERT ... FORMAT JSONEachRow` per batch over HTTP into a ReplacingMergeTree. */
export const clickhouseSink: SinkDefinition<typeof clickhouseConfigSchema> = {
  type: 'clickhouse',
  configSchema: clickhouseConfigSchema,
  secretKeys: ['password', 'url'],
  create: (config, context) => new ClickHouseSink(config, context),
};
