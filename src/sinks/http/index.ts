import { z } from 'zod';
import { duration } from '../../config/units.js';
import type { SinkDefinition } from '../sink.js';
import { batchWithDefaults, DEFAULT_BATCH, MAX_IN_FLIGHT, sinkConfigSchema } from '../sinkConfig.js';
import { HttpSink } from './httpSink.js';

/** The http sink's default `batch.inFlight`, measured in docs/performance.md. */
export const HTTP_IN_FLIGHT = 4;

export const httpConfigSchema = sinkConfigSchema('http', {
  /** Endpoint each batch is POSTed to. */
  url: z.url({ protocol: /^https?$/ }),
  /** `json`: the batch as one JSON array; `ndjson`: one encoded event per line. */
  format: z.enum(['json', 'ndjson']).default('json'),
  /** Extra request headers, e.g. Authorization. Redacted by check-config and the admin API. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Whole-request timeout (connect, send, answer): the loop's attempt deadline; a timeout is retried. */
  timeoutMs: duration().default(10_000),
  /** Compress request bodies with gzip (Content-Encoding: gzip). */
  gzip: z.boolean().default(false),
  /** Keep-alive connections kept open to the endpoint. */
  connections: z.number().int().min(1).max(256).default(4),
  /**
   * Each `deliver` is its own request on the pool, so several batches may be in flight at once:
   * a remote endpoint's round trip is then paid once per `inFlight` batches (docs/performance.md).
   * More than `connections` only queues in the pool.
   */
  batch: batchWithDefaults(DEFAULT_BATCH, { default: HTTP_IN_FLIGHT, max: MAX_IN_FLIGHT }).prefault({}),
});

export type HttpSinkConfig = z.output<typeof httpConfigSchema>;

/** `http`: POSTs each batch to a URL over keep-alive connections. */
export const httpSink: SinkDefinition<typeof httpConfigSchema> = {
  type: 'http',
  configSchema: httpConfigSchema,
  secretKeys: ['headers'],
  create: (config, context) => new HttpSink(config, context),
};
