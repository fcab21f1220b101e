import { z } from 'zod';
import { duration } from '../../config/units.js';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { columnsOption, connectionConflict, tableName } from '../sqlColumns.js';
import { PostgresSink } from './postgresSink.js';

export const postgresConfigSchema = sinkConfigSchema('postgres', {
  /** `postgres://user:password@host:5432/database?sslmode=require`. Exclusive with host/port/user/password/database. Redacted. */
  url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL').optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65_535).optional(),
  user: z.string().min(1).optional(),
  /** Redacted by check-config and the admin API. */
  password: z.string().optional(),
  database: z.string().min(1).optional(),
  /** Table the events go to, `events` or `schema.events`; the names are used as written (quoted). */
  table: tableName(),
  /** Create the table (default layout or the `columns` mapping) at open when it does not exist. */
  createTable: z.boolean().default(false),
  /** `{ <column>: <event field or props.x / meta.x> }`; replaces the default mapping. */
  columns: columnsOption(),
  /** Time to connect and check the table. */
  connectTimeoutMs: duration().default(10_000),
  /** Longest wait for one statement; past it the connection is dropped and the batch retried. */
  queryTimeoutMs: duration().default(30_000),
}).superRefine((config, ctx) => {
  const conflict = connectionConflict(config);
  if (conflict) ctx.addIssue({ code: 'custom', path: ['url'], message: conflict });
});

export type PostgresSinkConfig = z.output<typeof postgresConfigSchema>;

/** `postgres`: inserts each batch as one multi-row INSERT ... ON CONFLICT (id) DO NOTHING. */
export const postgresSink: SinkDefinition<typeof postgresConfigSchema> = {
  type: 'postgres',
  configSchema: postgresConfigSchema,
  secretKeys: ['password', 'url'],
  create: (config, context) => new PostgresSink(config, context),
};
