/**
 * The log the sink-level scenarios drain (bench/sinkDrain.ts): each event held as its JSON
 * text (as the local log's records hold it), decoded with one `JSON.parse` per event on read. That is the work the local
 * log's cursor does on a record it has read from disk, so a figure is the dispatcher and the
 * sink plus a realistic decode, without disk I/O.
 *
 * test/support/memoryLog.ts (the conformance suite's log) copies every event through
 * `JSON.stringify` and `JSON.parse` on every read: about 4 µs an event, a third of the CPU of a
 * database sink draining 100k rows/s on 2 cores, on the path that cannot overlap the sink.
 *
 * Enough for draining: one partition, committed position kept in memory, no persistence,
 * no retention. It keeps none of the log's promises across restarts; MemoryLog models those.
 */
import { fromLog } from '../src/event/codecs/json.js';
import type { TrackedEvent } from '../src/event/trackedEvent.js';
import type {
  Cursor,
  CursorLag,
  CursorOptions,
  EventLog,
  LogBatch,
  LogPosition,
  LogUsage,
  SeekTarget,
} from '../src/log/eventLog.js';
import { AppendWaiters } from '../test/support/appendWaiters.js';

const PARTITION = '0';

export class RecordLog implements EventLog {
  private readonly records: string[] = [];
  private readonly times: number[] = [];
  private readonly waiters = new AppendWaiters();

  async append(events: readonly TrackedEvent[]): Promise<void> {
    for (const e of events) {
      this.records.push(JSON.stringify(e));
      this.times.push(e.ts);
    }
    this.waiters.wakeAll();
  }

  async cursor(name: string, options: CursorOptions = {}): Promise<Cursor> {
    return new RecordCursor(this, name, options.origins === true);
  }

  usage(): LogUsage {
    return { bytes: this.records.reduce((n, r) => n + r.length, 0), maxBytes: Number.MAX_SAFE_INTEGER, ratio: 0 };
  }

  async close(): Promise<void> {
    this.waiters.wakeAll();
  }

  get length(): number {
    return this.records.length;
  }

  decode(from: number, to: number): TrackedEvent[] {
    const out: TrackedEvent[] = new Array(to - from);
    // As the local cursor does: each event keeps its record's text, so a json sink writes it without stringifying again.
    for (let i = from; i < to; i++) {
      const text = this.records[i]!;
      out[i - from] = fromLog(JSON.parse(text) as TrackedEvent, text);
    }
    return out;
  }

  firstAtOrAfter(ts: number): number {
    const i = this.times.findIndex((t) => t >= ts);
    return i < 0 ? this.times.length : i;
  }

  tsAt(seq: number): number | undefined {
    return this.times[seq];
  }

  waitForAppend(ms: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(ms, signal);
  }
}

class RecordCursor implements Cursor {
  private next = 0;
  private committed = 0;

  constructor(
    private readonly log: RecordLog,
    readonly name: string,
    /** Each event's position with the batch, for sinks that tie their output to positions (the s3 sink). */
    private readonly withOrigins = false,
  ) {}

  async read(max: number, waitMs: number, signal?: AbortSignal): Promise<LogBatch> {
    const deadline = Date.now() + waitMs;
    while (this.log.length - this.next < max && !signal?.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.log.waitForAppend(left, signal);
    }
    const to = Math.min(this.log.length, this.next + max);
    const from = this.next;
    const events = this.log.decode(this.next, to);
    this.next = to;
    const batch: LogBatch = { events, position: { [PARTITION]: to } };
    if (this.withOrigins) batch.origins = events.map((_, i) => ({ partition: PARTITION, seq: from + i }));
    return batch;
  }

  commit(position: LogPosition): void {
    this.committed = position[PARTITION] ?? this.committed;
  }

  async flush(): Promise<void> {}

  async seek(target: SeekTarget): Promise<void> {
    if (target.kind === 'start') this.next = 0;
    else if (target.kind === 'end') this.next = this.log.length;
    else if (target.kind === 'time') this.next = this.log.firstAtOrAfter(target.ts);
    else this.next = Math.min(this.log.length, Math.max(0, target.position[PARTITION] ?? 0));
    this.committed = this.next;
  }

  lag(): CursorLag {
    const events = Math.max(0, this.log.length - this.committed);
    return { events, oldestTs: events > 0 ? this.log.tsAt(this.committed) : undefined };
  }

  async close(): Promise<void> {}
}
