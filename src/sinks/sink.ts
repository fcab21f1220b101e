import type { z } from 'zod';
import type { Logger } from 'pino';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { EventOrigin, LogPosition } from '../log/eventLog.js';
import type { Clock } from '../ops/clock.js';
import type { SchemaSet } from '../schemas/schemaSet.js';
import type { BaseSinkConfig } from './sinkConfig.js';
import type { TypeOf } from '../config/partsSchema.js';

/**
 * A destination. The dispatcher owns retries, back-off, batching, dead-lettering, metrics,
 * deadlines and shutdown; a sink makes one attempt per call and says how it failed.
 */
export interface Sink {
  /** Connects. Throws SinkError('reconnect') when the destination is down, ('fatal') when the config can never work. */
  open(): Promise<void>;
  /**
   * One attempt to deliver the whole batch. Resolves when every event is acknowledged by the
   * destination. Past `deadlines.attemptMs` the loop aborts `attempt.signal`, stops waiting and
   * counts the attempt as `deadlines.timedOut` says; a sink passes the signal to calls that take
   * one and need not time anything out itself.
   *
   * Called once at a time, unless the sink's config schema allows `batch.inFlight` above 1
   * (`batchWithDefaults` with an `InFlightAllowance`, as http and nats do): then up to that many
   * calls run at once, each with its own batch and retries, and the sink must be safe for it
   * (no per-call state in fields; one call's `reconnect` closes the connection the others use,
   * and they fail and are retried). The loop still commits in log order, but the destination
   * may receive batches out of order. A sink with `deliverAt` is always called once at a time.
   */
  deliver(batch: readonly TrackedEvent[], attempt: Attempt): Promise<void>;
  /**
   * Flushes what the sink buffers and releases connections. Past `deadlines.closeMs` the loop
   * aborts `signal` and stops waiting: on that abort the sink drops its connections at once
   * (destroys the sockets) instead of closing them politely.
   */
  close(signal: AbortSignal): Promise<void>;
  /** How long the loop waits for this sink; see `SinkDeadlines`. */
  readonly deadlines?: SinkDeadlines;
  /**
   * Optional, for sinks whose output is tied to log positions (exactly-once files and
   * objects). When the log gives each event's origin, the loop calls this instead of
   * `deliver`, with the events it wants and their origins, and commits only the position it
   * resolves with: a sink that gathers events across batches (objects rolled by size or age)
   * keeps the cursor behind what it has not yet written. Must be idempotent for events it has
   * already taken (a retry or a redelivery after a crash hands them again).
   */
  deliverAt?(batch: readonly TrackedEvent[], at: BatchOrigins, attempt: Attempt): Promise<LogPosition>;
  /**
   * Optional, with `deliverAt`: writes out what the sink holds — what is due by age when
   * `all` is false (called when a read comes back empty), everything when true (at stop).
   * Resolves with the position the loop may now commit, if it moved.
   */
  flushHeld?(all: boolean): Promise<LogPosition | undefined>;
}

/** What the loop hands each attempt (`deliver`, `deliverAt`). */
export interface Attempt {
  /** Aborted (with the attempt's failure as its reason) when the attempt passed `deadlines.attemptMs`. */
  signal: AbortSignal;
}

/** The deadlines the loop keeps for a sink, so sinks do not each write their own timers. */
export interface SinkDeadlines {
  /** Longest one `deliver`/`deliverAt` may take. None when absent (the sink's client bounds its own requests). */
  attemptMs?: number;
  /** What an attempt past `attemptMs` counts as; by default `reconnect` (`timeout`): a silent connection is replaced. */
  timedOut?: (ms: number) => SinkError;
  /**
   * Longest `close` may take before the loop aborts its signal (the sink destroys its
   * connections). None when absent: a sink that writes out buffered data at close is waited for.
   */
  closeMs?: number;
}

/**
 * Resolves when `signal` aborts (at once if it has). A sink's `close` races its polite close
 * against it and, when the signal wins, destroys the connection: the deadline is the loop's,
 * what "force" means is the sink's.
 */
export function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Closes a connection politely, or destroys it: `destroy` runs when `politeClose` fails or
 * `signal` (the loop's close deadline) fires first.
 */
export async function closeOrDestroy(
  signal: AbortSignal,
  politeClose: Promise<unknown>,
  destroy: () => unknown,
): Promise<void> {
  const closed = await Promise.race([
    politeClose.then(
      () => true,
      () => false,
    ),
    whenAborted(signal).then(() => false),
  ]);
  if (!closed) await destroy();
}

/** The usual `closeMs` of a sink that buffers nothing: a connection that does not close politely by then is destroyed. */
export const CONNECTION_CLOSE_MS = 2000;

/** The log positions of a batch handed to `Sink.deliverAt`. */
export interface BatchOrigins {
  /** Each event's partition and sequence number, parallel to the batch. */
  origins: readonly EventOrigin[];
  /** The read position after the whole batch (events the sink does not want included). */
  end: LogPosition;
  /**
   * The cursor was moved back on request (`beacon replay`) since the last batch: events the
   * sink already wrote are wanted again, so it must not skip them as re-deliveries.
   */
  replay?: boolean;
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
  /** The configured JSON Schemas per event type, when there are any (the lake's typed columns). */
  schemas?: SchemaSet | undefined;
}

export interface SinkDefinition<S extends z.ZodObject = z.ZodObject> {
  /** The config `type` value: the literal of its config schema. */
  readonly type: TypeOf<S>;
  /** Zod object schema for this sink's config, built with `sinkConfigSchema` so it holds the base fields. */
  readonly configSchema: S;
  /** Dotted config keys whose values are redacted by `check-config` and the admin API. */
  readonly secretKeys?: readonly string[];
  create(config: z.output<S> & BaseSinkConfig, context: SinkContext): Sink;
}
