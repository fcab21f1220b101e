import type { z } from 'zod';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { refineSqlConnection, sqlSinkFields, SQL_SECRET_KEYS } from '../sqlSinkFields.js';
import { MysqlSink } from './mysqlSink.js';

export const mysqlConfigSchema = sinkConfigSchema(
  'mysql',
  sqlSinkFields({ pattern: /^(mysql|mariadb):\/\//, expected: 'a mysql:// or mariadb:// URL' }),
).superRefine(refineSqlConnection);

export type MysqlSinkConfig = z.output<typeof mysqlConfigSchema>;

/** `mysql` (MySQL and MariaDB): one LOAD DATA LOCAL INFILE per batch, or a multi-row INSERT ... ON DUPLICATE KEY UPDATE when the load is not clean (a redelivered id, a bad value) or refused; strict sql_mode. */
export const mysqlSink: SinkDefinition<typeof mysqlConfigSchema> = {
  type: 'mysql',
  configSchema: mysqlConfigSchema,
  secretKeys: SQL_SECRET_KEYS,
  create: (config, context) => new MysqlSink(config, context),
};
