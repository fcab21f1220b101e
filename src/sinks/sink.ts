import type { z } from 'zod';
import type { Logger } from 'pino';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Clock } from '../ops/clock.js';
import type { BaseSinkConfig } from './sinkConfig.js';

/**
 * A destination. The dispatcher owns retries, back-off, batching, dead-lettering, metrics and
 * shutdown; a sink makes one attempt per call and says how it failed.
 */
export interface Sink {
  /** Connects. Throws SinkError('reconnect') when the destination is down, ('fatal') when the config can never work. */
  open(): Promise<void>;
  /** One attempt to deliver the whole batch. Resolves when every event is acknowledged by the destination. */
  deliver(batch: readonly TrackedEvent[]): Promise<void>;
  /** Flushes what the sink buffers and releases connections. */
  close(): Promise<void>;
}

/**
 * - `retry`: transient; try the same batch again after back-off.
 * - `reconnect`: the connection is gone; the dispatcher calls `close` then `open` before retrying.
 * - `reject`: these events will never be accepted; dead-letter them with `reason`. With `rejected`
 *   the sink names them (by index in the batch) and the rest count as delivered; without it a
 *   batch of one is dead-lettered and a larger batch is split to find the bad events.
 * - `fatal`: the config is wrong; the sink stops and its events wait in the log.
 */
export type SinkFailureKind = 'retry' | 'reconnect' | 'reject' | 'fatal';

export interface RejectedEvent {
  index: number;
  reason: string;
}

export class SinkError extends Error {
  readonly kind: SinkFailureKind;
  /** Short, low-cardinality label for metrics, e.g. `http_503`, `econnrefused`. */
  readonly errorType: string;
  readonly retryAfterMs: number | undefined;
  readonly rejected: readonly RejectedEvent[] | undefined;

  constructor(
    kind: SinkFailureKind,
    message: string,
    options: { errorType?: string; retryAfterMs?: number; rejected?: RejectedEvent[]; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'SinkError';
    this.kind = kind;
    this.errorType = options.errorType ?? kind;
    this.retryAfterMs = options.retryAfterMs;
    this.rejected = options.rejected;
  }
}

export interface SinkContext {
  /** The sink's configured name, unique in the config. */
  name: string;
  dataDir: string;
  logger: Logger;
  clock: Clock;
}

export interface SinkDefinition<S extends z.ZodObject = z.ZodObject> {
  /** The config `type` value. */
  readonly type: string;
  /** Zod object schema for this sink's config, built with `sinkConfigSchema` so it holds the base fields. */
  readonly configSchema: S;
  /** Dotted config keys whose values are redacted by `check-config` and the admin API. */
  readonly secretKeys?: readonly string[];
  create(config: z.output<S> & BaseSinkConfig, context: SinkContext): Sink;
}
