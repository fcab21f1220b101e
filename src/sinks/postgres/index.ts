import type { z } from 'zod';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { refineSqlConnection, sqlSinkFields, SQL_SECRET_KEYS } from '../sqlSinkFields.js';
import { PostgresSink } from './postgresSink.js';

export const postgresConfigSchema = sinkConfigSchema(
  'postgres',
  sqlSinkFields({ pattern: /^postgres(ql)?:\/\//, expected: 'a postgres:// or postgresql:// URL' }),
).superRefine(refineSqlConnection);

export type PostgresSinkConfig = z.output<typeof postgresConfigSchema>;

/** `postgres`: writes each batch with one COPY, or a multi-row INSERT ... ON CONFLICT (id) DO NOTHING when the COPY is refused (an id already there). */
export const postgresSink: SinkDefinition<typeof postgresConfigSchema> = {
  type: 'postgres',
  configSchema: postgresConfigSchema,
  secretKeys: SQL_SECRET_KEYS,
  create: (config, context) => new PostgresSink(config, context),
};
