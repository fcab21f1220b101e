import { BeaconError } from '../../src/errors/beaconError.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import type {
  Cursor,
  CursorLag,
  CursorOptions,
  EventLog,
  LogBatch,
  LogPosition,
  LogUsage,
  SeekTarget,
} from '../../src/log/eventLog.js';
import { AppendWaiters } from './appendWaiters.js';

const PARTITION = '0';

/**
 * An in-memory EventLog that keeps the interface's promises (one partition, append order,
 * at-least-once through commit/persist) for dispatcher and conformance tests:
 * - events are copied through JSON on append, as a real log's payload would be;
 * - `read` returns at once when `max` events are ready, else waits up to `waitMs` (real
 *   timers) or until the signal aborts, and returns what it has;
 * - `commit` moves the committed position; `flush`/`close` "persist" it, and `restart()`
 *   plays a crash: every cursor reopens at its last persisted position.
 */
export class MemoryLog implements EventLog {
  readonly events: TrackedEvent[] = [];
  private readonly committed = new Map<string, number>();
  private readonly persisted = new Map<string, number>();
  private readonly waiters = new AppendWaiters();
  private closed = false;
  /** How many times each cursor was flushed (persisted on request). */
  readonly flushes = new Map<string, number>();

  async append(events: readonly TrackedEvent[]): Promise<void> {
    if (this.closed) throw new BeaconError('BEACON_E_LOG_CLOSED', 'the log is closed');
    for (const e of events) this.events.push(JSON.parse(JSON.stringify(e)) as TrackedEvent);
    this.waiters.wakeAll();
  }

  async cursor(name: string, options: CursorOptions = {}): Promise<Cursor> {
    if (this.closed) throw new BeaconError('BEACON_E_LOG_CLOSED', 'the log is closed');
    if (options.ephemeral) return new MemoryCursor(this, name, this.events.length, true);
    if (!this.committed.has(name)) this.committed.set(name, this.persisted.get(name) ?? 0);
    return new MemoryCursor(this, name, this.committed.get(name)!, false, options.origins === true);
  }

  usage(): LogUsage {
    const bytes = this.events.reduce((n, e) => n + JSON.stringify(e).length, 0);
    return { bytes, maxBytes: Number.MAX_SAFE_INTEGER, ratio: 0 };
  }

  async close(): Promise<void> {
    for (const [name, seq] of this.committed) this.persisted.set(name, seq);
    this.closed = true;
    this.waiters.wakeAll();
  }

  /** Committed position of a cursor (next sequence to deliver). */
  committedOf(name: string): number {
    return this.committed.get(name) ?? 0;
  }

  /** Persisted position of a cursor: what survives a crash. */
  persistedOf(name: string): number {
    return this.persisted.get(name) ?? 0;
  }

  /** A crash and restart: uncommitted-but-unpersisted progress is forgotten. */
  restart(): void {
    this.committed.clear();
    for (const [name, seq] of this.persisted) this.committed.set(name, seq);
    this.closed = false;
  }

  // --- used by MemoryCursor ---

  get isClosed(): boolean {
    return this.closed;
  }

  setCommitted(name: string, seq: number): void {
    this.committed.set(name, seq);
  }

  persist(name: string): void {
    this.persisted.set(name, this.committed.get(name) ?? 0);
    this.flushes.set(name, (this.flushes.get(name) ?? 0) + 1);
  }

  waitForAppend(ms: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(ms, signal);
  }
}

class MemoryCursor implements Cursor {
  constructor(
    private readonly log: MemoryLog,
    readonly name: string,
    private next: number,
    private readonly ephemeral: boolean,
    private readonly withOrigins = false,
  ) {}

  async read(max: number, waitMs: number, signal?: AbortSignal): Promise<LogBatch> {
    if (this.log.isClosed) throw new BeaconError('BEACON_E_LOG_CLOSED', 'the log is closed');
    const deadline = Date.now() + waitMs;
    while (this.log.events.length - this.next < max && !signal?.aborted && !this.log.isClosed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.log.waitForAppend(left, signal);
    }
    const from = this.next;
    const events = this.log.events.slice(this.next, this.next + max);
    this.next += events.length;
    const batch: LogBatch = {
      events: events.map((e) => JSON.parse(JSON.stringify(e)) as TrackedEvent),
      position: { [PARTITION]: this.next },
    };
    if (this.withOrigins) batch.origins = events.map((_, i) => ({ partition: PARTITION, seq: from + i }));
    return batch;
  }

  commit(position: LogPosition): void {
    if (this.ephemeral) return;
    const seq = position[PARTITION];
    if (seq !== undefined) this.log.setCommitted(this.name, seq);
  }

  async flush(): Promise<void> {
    if (!this.ephemeral) this.log.persist(this.name);
  }

  async seek(target: SeekTarget): Promise<void> {
    const events = this.log.events;
    let seq: number;
    if (target.kind === 'start') seq = 0;
    else if (target.kind === 'end') seq = events.length;
    else if (target.kind === 'time') {
      const i = events.findIndex((e) => e.ts >= target.ts);
      seq = i < 0 ? events.length : i;
    } else seq = Math.min(events.length, Math.max(0, target.position[PARTITION] ?? 0));
    this.next = seq;
    if (!this.ephemeral) this.log.setCommitted(this.name, seq);
  }

  lag(): CursorLag {
    const committed = this.ephemeral ? this.next : this.log.committedOf(this.name);
    const events = Math.max(0, this.log.events.length - committed);
    return { events, oldestTs: events > 0 ? this.log.events[committed]?.ts : undefined };
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
