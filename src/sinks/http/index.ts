import { z } from 'zod';
import { duration } from '../../config/units.js';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { HttpSink } from './httpSink.js';

export const httpConfigSchema = sinkConfigSchema('http', {
  /** Endpoint each batch is POSTed to. */
  url: z.url({ protocol: /^https?$/ }),
  /** `json`: the batch as one JSON array; `ndjson`: one encoded event per line. */
  format: z.enum(['json', 'ndjson']).default('json'),
  /** Extra request headers, e.g. Authorization. Redacted by check-config and the admin API. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Whole-request timeout (connect, send, answer); a timeout is retried. */
  timeoutMs: duration().default(10_000),
  /** Compress request bodies with gzip (Content-Encoding: gzip). */
  gzip: z.boolean().default(false),
  /** Keep-alive connections kept open to the endpoint. */
  connections: z.number().int().min(1).max(256).default(4),
});

export type HttpSinkConfig = z.output<typeof httpConfigSchema>;

/** `http`: POSTs each batch to a URL over keep-alive connections. */
export const httpSink: SinkDefinition<typeof httpConfigSchema> = {
  type: 'http',
  configSchema: httpConfigSchema,
  secretKeys: ['headers'],
  create: (config, context) => new HttpSink(config, context),
};
