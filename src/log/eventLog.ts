import type { TrackedEvent } from '../event/trackedEvent.js';

/**
 * The log is the only hand-off between receiving and delivering.
 *
 * Promises every implementation keeps (local, jetstream; test/conformance/eventLog.ts checks them):
 * 1. `append` resolves only once its events are durable as configured; a collector answers
 *    2xx only after that. If it rejects, none of the events may be reported as accepted.
 * 2. A cursor only returns records that are durable: it never passes an unsynced record.
 * 3. Each cursor delivers records of one partition in append order; after a restart it resumes
 *    at its last persisted commit, so delivery is at-least-once (a crash between deliver and
 *    persist re-delivers, never skips).
 * 4. A full log rejects `append` with BEACON_E_LOG_FULL (the collector answers 503 with
 *    Retry-After); it never drops silently, and accepts again once cursors move on.
 */
export interface EventLog {
  append(events: readonly TrackedEvent[]): Promise<void>;
  /**
   * Opens (or creates) a named cursor. A persistent cursor starts where it last committed,
   * or at the start of the retained log when new; an ephemeral one (for `tail`) starts at
   * the end and is never persisted nor counted for retention.
   */
  cursor(name: string, options?: CursorOptions): Promise<Cursor>;
  usage(): LogUsage;
  /**
   * The named cursor's sink was removed while running (a config reload) and its cursor is
   * closed: its position no longer holds retention, as after a restart without that sink.
   * The persisted position is kept. Logs whose retention ignores cursors need not implement it.
   */
  forgetCursor?(name: string): void;
  /**
   * The ids of the last events this process's writer found stored at open, handed out once (the
   * id memory learns them: a kill can land between a durable append and the process
   * remembering it). Logs whose writer keeps nothing locally leave it out.
   */
  takeRecoveredIds?(): string[];
  /** Waits for in-flight appends, persists every cursor and releases files. */
  close(): Promise<void>;
}

export interface CursorOptions {
  ephemeral?: boolean;
  /**
   * Return each event's place in the log with every batch (`LogBatch.origins`), for sinks that
   * tie their output to positions (exactly-once files and objects). Logs that cannot say leave
   * `origins` out, and such sinks fall back to at-least-once.
   */
  origins?: boolean;
}

/** Where one event sits in the log: its partition and its sequence number there. */
export interface EventOrigin {
  readonly partition: string;
  readonly seq: number;
}

/**
 * Opaque, JSON-serialisable position returned with a batch; pass it back to `commit`.
 * For the local log it maps a partition to the next sequence number to read. For the JetStream
 * log, `n` counts the events this cursor handed out up to the batch's end (what `commit` acks)
 * and `seq` is the stream sequence after the batch (a replay target).
 */
export type LogPosition = { readonly [partition: string]: number };

export interface LogBatch {
  events: TrackedEvent[];
  /** Position just after the last event of this batch. */
  position: LogPosition;
  /** With `CursorOptions.origins`: each event's place in the log, parallel to `events`. */
  origins?: EventOrigin[];
}

export type SeekTarget =
  { kind: 'start' } | { kind: 'end' } | { kind: 'time'; ts: number } | { kind: 'position'; position: LogPosition };

export interface Cursor {
  readonly name: string;
  /**
   * Resolves with up to `max` events. Returns at once when `max` events are ready; otherwise
   * waits up to `waitMs` for more and returns what it has, possibly nothing. An aborted
   * signal resolves the wait early with what is there.
   */
  read(max: number, waitMs: number, signal?: AbortSignal): Promise<LogBatch>;
  /** Marks events up to `position` delivered. Persisted within `log.cursorSyncMs`, and on `flush`/`close`. */
  commit(position: LogPosition): void;
  /** Persists the committed position now (atomically: write temp, fsync, rename). */
  flush(): Promise<void>;
  /**
   * Moves the read (and committed) position, for replay. A `position` target is checked first
   * (as by `check`): a cursor is never moved past the end of the log nor into a partition that
   * does not exist.
   */
  seek(target: SeekTarget): Promise<void>;
  /**
   * Throws BEACON_E_REPLAY_POSITION, naming the partition and its valid range, when `target` is
   * a position this log does not have; changes nothing. Lets a replay refuse a bad target before
   * it disturbs the batch in flight. Optional for cursors that are never replayed.
   */
  check?(target: SeekTarget): Promise<void>;
  lag(): CursorLag;
  close(): Promise<void>;
}

export interface CursorLag {
  /** Durable events not yet committed by this cursor. */
  events: number;
  /** Receive time of the oldest uncommitted event, when known. */
  oldestTs: number | undefined;
}

export interface LogUsage {
  bytes: number;
  maxBytes: number;
  /** Fraction of maxBytes in use, 0..1. */
  ratio: number;
}
