import { z } from 'zod';
import { duration } from '../../config/units.js';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { columnsOption, connectionConflict, tableName } from '../sqlColumns.js';
import { MysqlSink } from './mysqlSink.js';

export const mysqlConfigSchema = sinkConfigSchema('mysql', {
  /** `mysql://user:password@host:3306/database`. Exclusive with host/port/user/password/database. Redacted. */
  url: z.string().regex(/^(mysql|mariadb):\/\//, 'a mysql:// or mariadb:// URL').optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65_535).optional(),
  user: z.string().min(1).optional(),
  /** Redacted by check-config and the admin API. */
  password: z.string().optional(),
  database: z.string().min(1).optional(),
  /** Table the events go to, `events` or `database.events`. */
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

export type MysqlSinkConfig = z.output<typeof mysqlConfigSchema>;

/** `mysql` (MySQL and MariaDB): one multi-row INSERT ... ON DUPLICATE KEY UPDATE per batch, strict sql_mode. */
export const mysqlSink: SinkDefinition<typeof mysqlConfigSchema> = {
  type: 'mysql',
  configSchema: mysqlConfigSchema,
  secretKeys: ['password', 'url'],
  create: (config, context) => new MysqlSink(config, context),
};
