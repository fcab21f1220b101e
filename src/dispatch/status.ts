import type { SinkFailureKind } from '../sinks/sink.js';

/**
 * - `idle`: waiting for events in the log.
 * - `delivering`: a `deliver` (or `open`) call is in flight.
 * - `backing_off`: the last attempt failed; `nextAttemptAt` says when the next one is.
 * - `fatal`: the sink stopped on a fatal error (`lastError`); its events wait in the log.
 * - `stopped`: the dispatcher was stopped.
 */
export type SinkState = 'idle' | 'delivering' | 'backing_off' | 'fatal' | 'stopped';

export const SINK_STATES: readonly SinkState[] = ['idle', 'delivering', 'backing_off', 'fatal', 'stopped'];

/** One sink's line in `beacon status`. Times are ISO-8601 strings. */
export interface SinkStatus {
  name: string;
  type: string;
  state: SinkState;
  since: string;
  lagEvents: number;
  lagSeconds: number;
  delivered: number;
  deadLettered: number;
  errors: number;
  lastError?: { message: string; kind: SinkFailureKind; at: string };
  nextAttemptAt?: string;
}

export interface DeadLetterReplayResult {
  sink: string;
  /** Entries read from the dead letter. */
  replayed: number;
  /** Of those, delivered this time. */
  delivered: number;
  /** Of those, rejected again and written back to the dead letter. */
  deadLettered: number;
  /** Lines that could not be parsed as dead-letter entries; kept in the dead letter. */
  unreadable: number;
}

export interface LogReplayResult {
  sink: string;
  /** Events the sink's cursor now has to deliver. */
  pending: number;
}
