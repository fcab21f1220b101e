import type { Logger } from 'pino';
import type { z } from 'zod';
import type { TypeOf } from '../config/partsSchema.js';
import type { LimitsConfig } from '../config/schema.js';
import type { ErrorCode } from '../errors/codes.js';
import type { ResendMarks } from '../event/resendMarks.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';

/**
 * A source turns outside input into events. `emit` resolves only when the events are durable
 * in the log, so a source acknowledges its input (HTTP 2xx, AMQP ack) after `emit` resolves
 * and never before. `emit` rejects with a BeaconError (e.g. BEACON_E_LOG_FULL) when the log
 * cannot take them; the source then refuses its input so the sender retries.
 */
export type Emit = (events: TrackedEvent[]) => Promise<void>;

export interface Source {
  readonly name: string;
  start(emit: Emit): Promise<void>;
  /** Stops taking new input and resolves when in-flight input has been emitted or refused. */
  stop(): Promise<void>;
}

/** What a queue source gets from Beacon besides `emit`. */
export interface SourceContext {
  name: string;
  dataDir: string;
  logger: Logger;
  metrics: Metrics;
  limits: LimitsConfig;
  /** Where events whose id the message gave are marked for the id memory (the enrichment chain's); unset: not marked. */
  marks?: ResendMarks;
  /**
   * Puts a message that can never become events (malformed, too large...) into
   * `dataDir/dlq/source-<name>.ndjson` with the reason, so the queue is never blocked by it.
   * Resolves when the entry is on disk; only then may the source ack the message.
   */
  deadLetter(payload: Buffer | string, code: ErrorCode, reason: string): Promise<void>;
}

export interface SourceDefinition<S extends z.ZodObject = z.ZodObject> {
  /** The config `type` value: the literal of its config schema. */
  readonly type: TypeOf<S>;
  readonly configSchema: S;
  /** Dotted config keys whose values are redacted by `check-config` and the admin API. */
  readonly secretKeys?: readonly string[];
  create(config: z.output<S> & { name: string; type: string }, context: SourceContext): Source;
}
