import { z } from 'zod';
import { byteSize, duration } from '../config/units.js';
import { SQL_STORE_SCHEMAS } from './sql/index.js';

/**
 * The `store` config section: where the query API reads events from. `embedded` (the default)
 * keeps them in a DuckDB file under `<dataDir>/store/`, fed by the internal sink `_store`;
 * `none` turns the store (and the query endpoints' data) off; the SQL types read the tables
 * the postgres, mysql and clickhouse sinks write (src/store/sql/).
 */

const DAY_MS = 86_400_000;

const retentionSchema = z.strictObject({
  /** Events older than this (by server receive time) are deleted; 0 keeps them whatever their age. */
  maxAge: duration().default(30 * DAY_MS),
  /** Once the data in the store file passes this, the oldest events are deleted until it is under 90% of it; 0: no size limit. */
  maxBytes: byteSize().default(2 * 1024 ** 3),
  /** How often retention runs (age, then size, then a CHECKPOINT when anything was deleted). */
  checkEvery: duration().default(60_000),
});

const storeBatchSchema = z.strictObject({
  /** Most events the internal sink writes in one append. */
  maxEvents: z.number().int().min(1).max(100_000).default(1000),
  /** Longest wait for a batch to fill; bounds how far the store trails the log when traffic is light. */
  maxWaitMs: z.number().int().min(0).max(60_000).default(200),
});

export const embeddedStoreSchema = z.strictObject({
  type: z.literal('embedded'),
  retention: retentionSchema.prefault({}),
  /** DuckDB's buffer-pool limit (`memory_limit`); queries that need more spill to `<dataDir>/store/tmp`. */
  memoryLimit: byteSize().default(48 * 1024 ** 2),
  /** DuckDB worker threads; 1 leaves the other cores to the collector and the sinks. */
  threads: z.number().int().min(1).max(64).default(1),
  /** Most bytes DuckDB may spill to `<dataDir>/store/tmp` for a query larger than memoryLimit. */
  maxTempBytes: byteSize().default(1024 ** 3),
  /** Batching of the internal sink `_store` that feeds the store from the log. */
  batch: storeBatchSchema.prefault({}),
  /** A query running longer is interrupted and answered 504 BEACON_E_STORE_TIMEOUT; 0: no limit. */
  queryTimeout: duration().default(30_000),
  /** Most queries waiting behind the running one; past it a query is answered 503 BEACON_E_STORE_UNAVAILABLE with Retry-After. */
  maxQueuedQueries: z.number().int().min(0).max(10_000).default(32),
});

export const noneStoreSchema = z.strictObject({
  type: z.literal('none'),
});

export const storeSchema = z.discriminatedUnion('type', [embeddedStoreSchema, noneStoreSchema, ...SQL_STORE_SCHEMAS]);

export type StoreConfig = z.output<typeof storeSchema>;
export type EmbeddedStoreConfig = z.output<typeof embeddedStoreSchema>;
