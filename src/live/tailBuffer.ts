import type { EventLog, Cursor } from '../log/eventLog.js';
import type { TrackedEvent } from '../event/trackedEvent.js';

/**
 * Follows the end of the log for `beacon tail` through an ephemeral cursor, keeping the last
 * `capacity` events in a ring. The cursor runs only while someone tailed in the last
 * `idleMs`, so an instance nobody watches pays nothing for it. Readers poll with the `next`
 * number they were given and get what came after it (or a gap notice when they fell behind).
 */
export interface TailPage {
  events: TrackedEvent[];
  next: number;
  /** Events that fell out of the ring before this reader fetched them. */
  missed: number;
}

export class TailBuffer {
  private readonly ring: TrackedEvent[] = [];
  /** Sequence number of ring[0]. */
  private first = 0;
  private cursor: Cursor | undefined;
  private running: Promise<void> | undefined;
  private lastUse = 0;
  private waiters = new Set<() => void>();
  private abort = new AbortController();

  constructor(
    private readonly log: EventLog,
    private readonly capacity = 1000,
    private readonly idleMs = 30_000,
  ) {}

  async page(since: number | undefined, waitMs: number, filter: (e: TrackedEvent) => boolean): Promise<TailPage> {
    this.lastUse = Date.now();
    this.ensureRunning();
    const end = this.first + this.ring.length;
    const from = since === undefined || since > end ? end : since;
    if (from === end && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        const waiters = this.waiters;
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
    const start = Math.max(from, this.first);
    const events = this.ring.slice(start - this.first).filter(filter);
    return { events, next: this.first + this.ring.length, missed: start - from };
  }

  private ensureRunning(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.follow().finally(() => {
      this.running = undefined;
    });
  }

  private async follow(): Promise<void> {
    this.cursor = await this.log.cursor(`tail-${process.pid}`, { ephemeral: true });
    try {
      while (!this.abort.signal.aborted && Date.now() - this.lastUse < this.idleMs) {
        const batch = await this.cursor.read(500, 1000, this.abort.signal);
        if (batch.events.length === 0) continue;
        this.ring.push(...batch.events);
        const excess = this.ring.length - this.capacity;
        if (excess > 0) {
          this.ring.splice(0, excess);
          this.first += excess;
        }
        for (const wake of [...this.waiters]) wake();
      }
    } finally {
      await this.cursor.close();
      this.cursor = undefined;
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    for (const wake of [...this.waiters]) wake();
    await this.running;
  }
}
