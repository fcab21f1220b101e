import { BeaconError } from '../../errors/beaconError.js';
import { fromLog } from '../../event/codecs/json.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { Cursor, CursorLag, EventOrigin, LogBatch, LogPosition, SeekTarget } from '../eventLog.js';
import { isNotFound, type LogFs } from './logFs.js';
import type { PartitionView } from './partition.js';
import { checkReplayPosition } from './positionRange.js';
import type { RecentRecords } from './recentRecords.js';
import {
  FRAME_NEED_MORE,
  FRAME_OK,
  FrameReader,
  HEADER_BYTES,
  findNextFrame,
  newFrameView,
  parseFrame,
  readFrameSeq,
} from './recordFormat.js';

/** What a cursor needs from the reader that made it. */
export interface CursorHost {
  readonly fs: LogFs;
  readonly chunkBytes: number;
  readonly cursorSyncMs: number;
  /** Events other cursors of this reader decoded lately, to share instead of parsing again. */
  readonly recent: RecentRecords;
  /** Bumped whenever a durable watermark advances. */
  readonly version: number;
  partitionViews(): PartitionView[];
  waitForDurable(ms: number, signal?: AbortSignal): Promise<void>;
  reportCorrupt(partition: string, segment: string, offset: number): void;
  save(name: string, position: LogPosition): Promise<void>;
  persisted(name: string, position: LogPosition): void;
  closed(cursor: LocalCursor): void;
}

interface PartitionRead {
  /** Next sequence number to return. */
  seq: number;
  reader: FrameReader | undefined;
  segmentBase: number;
  segmentName: string;
  /** The durable watermark when the buffer was filled: bytes of later records may be stale. */
  durableAtFill: number;
}

interface BatchMark {
  partition: string;
  endSeq: number;
  ts: number;
}

const MAX_BATCH_MARKS = 1024;

/**
 * A named reader over every partition. It reads each partition in append order up to the
 * partition's durable watermark, never past it, and shares each read between partitions.
 */
export class LocalCursor implements Cursor {
  private readonly reads = new Map<string, PartitionRead>();
  private committed: Record<string, number>;
  private persistedPosition: Record<string, number>;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private isClosed = false;
  private turn = 0;
  private readonly view = newFrameView();
  private marks: BatchMark[] = [];
  /** The reads a seek by time is probing with, per partition: they hold retention where they read, as the cursor's own reads do. */
  private readonly probes = new Map<string, PartitionRead>();

  constructor(
    readonly name: string,
    readonly ephemeral: boolean,
    private readonly host: CursorHost,
    start: LogPosition,
    /** Whether `read` returns each event's partition and sequence number (`LogBatch.origins`). */
    private readonly withOrigins = false,
  ) {
    this.committed = { ...start };
    this.persistedPosition = { ...start };
  }

  async read(max: number, waitMs: number, signal?: AbortSignal): Promise<LogBatch> {
    if (this.isClosed) throw new BeaconError('BEACON_E_LOG_CLOSED', `cursor "${this.name}" is closed`);
    const events: TrackedEvent[] = [];
    const origins: EventOrigin[] | undefined = this.withOrigins ? [] : undefined;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const version = this.host.version;
      await this.fill(events, max, origins);
      if (events.length >= max || signal?.aborted || this.isClosed) break;
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (this.host.version === version) await this.host.waitForDurable(left, signal);
    }
    return origins ? { events, position: this.readPosition(), origins } : { events, position: this.readPosition() };
  }

  commit(position: LogPosition): void {
    for (const [p, seq] of Object.entries(position)) this.committed[p] = Math.max(this.committed[p] ?? 0, seq);
    this.dropMarks();
    this.markDirty();
  }

  flush(): Promise<void> {
    const run = this.flushing.then(() => this.persist());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  async check(target: SeekTarget): Promise<void> {
    if (target.kind !== 'position') return;
    const views = this.host.partitionViews();
    for (const view of views) await view.refresh();
    checkReplayPosition(target.position, views);
  }

  async seek(target: SeekTarget): Promise<void> {
    await this.check(target);
    const views = this.host.partitionViews();
    const next: Record<string, number> = {};
    for (const view of views) {
      await view.refresh();
      if (target.kind === 'start') next[view.name] = view.firstSeq();
      else if (target.kind === 'end') next[view.name] = view.durable;
      else if (target.kind === 'position') next[view.name] = target.position[view.name] ?? view.firstSeq();
      else next[view.name] = await this.findTime(view, target.ts);
    }
    for (const read of this.reads.values()) await closeReader(read);
    this.reads.clear();
    this.marks = [];
    this.committed = { ...next };
    for (const [p, seq] of Object.entries(next)) this.reads.set(p, newRead(seq));
    this.markDirty();
  }

  lag(): CursorLag {
    let events = 0;
    let oldestTs: number | undefined;
    let allKnown = true;
    for (const view of this.host.partitionViews()) {
      const from = Math.max(this.committed[view.name] ?? 0, view.firstSeq());
      const behind = Math.max(0, view.durable - from);
      if (behind === 0) continue;
      events += behind;
      const mark = this.marks.find((m) => m.partition === view.name && m.endSeq > from);
      if (mark === undefined) allKnown = false;
      else oldestTs = oldestTs === undefined ? mark.ts : Math.min(oldestTs, mark.ts);
    }
    return { events, oldestTs: allKnown ? oldestTs : undefined };
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      await this.flush();
    } finally {
      for (const read of this.reads.values()) await closeReader(read);
      this.reads.clear();
      this.host.closed(this);
    }
  }

  /** The lowest sequence number of `partition` this cursor may still need (for retention). */
  retentionFloor(partition: string): number {
    const read = this.reads.get(partition)?.seq ?? this.committed[partition] ?? 0;
    const probe = this.probes.get(partition)?.seq ?? read;
    return Math.min(read, probe, this.committed[partition] ?? 0, this.persistedPosition[partition] ?? 0);
  }

  get persistedSnapshot(): LogPosition {
    return this.persistedPosition;
  }

  private markDirty(): void {
    if (this.ephemeral) return;
    this.dirty = true;
    if (this.timer || this.isClosed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A failed save stays dirty and is retried at the next commit or flush.
      this.flush().catch(() => undefined);
    }, this.host.cursorSyncMs);
    this.timer.unref?.();
  }

  private async persist(): Promise<void> {
    if (!this.dirty || this.ephemeral) return;
    const snapshot = { ...this.committed };
    this.dirty = false;
    try {
      await this.host.save(this.name, snapshot);
    } catch (err) {
      this.dirty = true;
      throw new BeaconError('BEACON_E_LOG_IO', `could not save the position of cursor "${this.name}"`, undefined, {
        cause: err,
      });
    }
    this.persistedPosition = snapshot;
    this.host.persisted(this.name, snapshot);
  }

  private readPosition(): LogPosition {
    const position: Record<string, number> = { ...this.committed };
    for (const [p, read] of this.reads) position[p] = read.seq;
    return position;
  }

  private dropMarks(): void {
    this.marks = this.marks.filter((m) => m.endSeq > (this.committed[m.partition] ?? 0));
  }

  private readFor(partition: string): PartitionRead {
    let read = this.reads.get(partition);
    if (!read) {
      read = newRead(this.committed[partition] ?? 0);
      this.reads.set(partition, read);
    }
    return read;
  }

  /** Fills `out` up to `max`, giving each partition a fair share first, then any room left to whoever has more. */
  private async fill(out: TrackedEvent[], max: number, origins?: EventOrigin[]): Promise<void> {
    const views = this.host.partitionViews();
    const n = views.length;
    if (n === 0) return;
    const first = this.turn++ % n;
    const share = Math.max(1, Math.ceil((max - out.length) / n));
    for (let i = 0; i < n && out.length < max; i++)
      await this.fillPartition(views[(first + i) % n]!, Math.min(max, out.length + share), out, origins);
    for (let i = 0; i < n && out.length < max; i++)
      await this.fillPartition(views[(first + i) % n]!, max, out, origins);
  }

  /** Reads `view`'s records into `out` up to `limit` events, and marks when the batch's first event arrived (for `lag`). */
  private async fillPartition(
    view: PartitionView,
    limit: number,
    out: TrackedEvent[],
    origins?: EventOrigin[],
  ): Promise<void> {
    const read = this.readFor(view.name);
    const before = out.length;
    await this.readRecords(view, read, limit, out, origins);
    if (out.length > before) this.markBatch(view.name, read.seq, out[before]!.ts);
  }

  /**
   * Reads records of `view` from `read.seq` until `out` holds `limit` events or nothing more is
   * durable. Each turn takes one step at the reader's position: an event another cursor decoded
   * lately, else one frame parsed here, else whatever ends the frames (more bytes, the next
   * segment, or bad bytes to skip).
   */
  private async readRecords(
    view: PartitionView,
    read: PartitionRead,
    limit: number,
    out: TrackedEvent[],
    origins?: EventOrigin[],
  ): Promise<void> {
    while (out.length < limit) {
      const durable = view.durable;
      if (read.seq >= durable) return; // caught up with the durable watermark
      if (!read.reader && !(await this.openSegment(view, read))) return; // no segment yet
      if (!read.reader!.loaded) await refill(read, durable);
      if (this.takeShared(view, read, out, origins)) continue;
      if ((await this.takeFrame(view, read, durable, out, origins)) === 'stop') return;
    }
  }

  /** Another cursor decoded the frame at the reader's position lately: takes its event, skipping the CRC and the parse. */
  private takeShared(view: PartitionView, read: PartitionRead, out: TrackedEvent[], origins?: EventOrigin[]): boolean {
    const r = read.reader!;
    if (r.len - r.pos < HEADER_BYTES) return false;
    const seq = readFrameSeq(r.buf, r.pos);
    const size = HEADER_BYTES + r.buf.readUInt32LE(r.pos);
    if (seq < read.seq || seq >= read.durableAtFill || size > r.len - r.pos) return false;
    const shared = this.host.recent.get(view.name, seq, read.segmentBase, r.offset, size);
    if (shared === undefined) return false;
    take(read, view.name, seq, shared, out, origins);
    r.pos += size;
    return true;
  }

  /** Parses the frame at the reader's position: returns its event, skips it (already read), or reads its bytes again. */
  private async takeFrame(
    view: PartitionView,
    read: PartitionRead,
    durable: number,
    out: TrackedEvent[],
    origins?: EventOrigin[],
  ): Promise<Step> {
    const r = read.reader!;
    const v = this.view;
    const code = parseFrame(r.buf, r.pos, r.len, v);
    if (code !== FRAME_OK) return this.pastLastFrame(view, read, durable, code);
    if (v.seq < read.seq) {
      r.pos = v.payloadEnd; // before `read.seq`: a segment is opened at its start
      return 'next';
    }
    if (v.seq >= read.durableAtFill) {
      if (v.seq >= durable) return 'stop';
      // These bytes were read before the record was synced: read them again.
      await refill(read, durable);
      return 'next';
    }
    // The text is kept with the event: a json-codec sink writes it out instead of re-encoding.
    const text = r.buf.toString('utf8', v.payloadStart, v.payloadEnd);
    const event = fromLog(JSON.parse(text) as TrackedEvent, text);
    this.host.recent.put(view.name, v.seq, read.segmentBase, r.offset, v.size, event);
    take(read, view.name, v.seq, event, out, origins);
    r.pos = v.payloadEnd;
    return 'next';
  }

  /**
   * No whole valid frame at the reader's position (`code`): reads more of the segment, moves to
   * the next segment at a clean end, or skips bad bytes (counted as one corrupt record).
   */
  private async pastLastFrame(view: PartitionView, read: PartitionRead, durable: number, code: number): Promise<Step> {
    const r = read.reader!;
    if ((code === FRAME_NEED_MORE && !r.eof) || read.durableAtFill < durable) {
      // More of the segment to read, or bytes read before later records were synced.
      await refill(read, durable, code === FRAME_NEED_MORE ? this.view.size : 0);
      return 'next';
    }
    // The end of what this segment holds now, or bad bytes.
    const next = await segmentAfter(view, read.segmentBase);
    if (code === FRAME_NEED_MORE && r.len === r.pos) {
      if (!next) return 'stop'; // the active segment's end: wait for the writer
      await this.moveTo(read, next.base);
      return 'next';
    }
    const found = await findNextFrame(r.file, r.offset + 1, read.seq, next ? Number.MAX_SAFE_INTEGER : durable);
    if (found >= 0) {
      this.host.reportCorrupt(view.name, read.segmentName, r.offset);
      r.reset(found);
      return 'next';
    }
    if (!next) return 'stop'; // in the active segment: wait for the writer
    this.host.reportCorrupt(view.name, read.segmentName, r.offset);
    await this.moveTo(read, next.base);
    return 'next';
  }

  /** Remembers when the first event of a batch read from `partition` arrived, until the batch is committed. */
  private markBatch(partition: string, endSeq: number, firstTs: unknown): void {
    this.marks.push({ partition, endSeq, ts: typeof firstTs === 'number' ? firstTs : Date.now() });
    if (this.marks.length > MAX_BATCH_MARKS) this.marks.shift();
  }

  private async moveTo(read: PartitionRead, base: number): Promise<void> {
    await closeReader(read);
    read.seq = Math.max(read.seq, base);
  }

  /** Opens the segment holding `read.seq`; false when the partition has no segment yet. */
  private async openSegment(view: PartitionView, read: PartitionRead): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      await view.refresh();
      const index = view.locate(read.seq);
      if (index < 0) return false;
      const segment = view.segments[index]!;
      // Records before the oldest retained segment are gone: start at what is there.
      if (read.seq < segment.base) read.seq = segment.base;
      try {
        const file = await this.host.fs.openRead(segment.path);
        read.reader = new FrameReader(file, 0, this.host.chunkBytes);
        read.segmentBase = segment.base;
        read.segmentName = segment.name;
        return true;
      } catch (err) {
        if (!isNotFound(err)) throw err; // deleted by retention meanwhile: list again
      }
    }
    return false;
  }

  /** The sequence number of the first durable record of `view` with ts >= `ts` (or the end). */
  private async findTime(view: PartitionView, ts: number): Promise<number> {
    const probe = newRead(view.firstSeq());
    const batch: TrackedEvent[] = [];
    for (;;) {
      batch.length = 0;
      const start = probe.seq;
      await this.probe(view, probe, 4096, batch);
      if (batch.length === 0) break;
      const hit = batch.findIndex((e) => e.ts >= ts);
      if (hit >= 0) {
        await closeReader(probe);
        // Sequence numbers can skip over corrupt records, so count back from where the batch ended.
        return hit === 0 ? start : await this.seqOfIndex(view, start, hit);
      }
    }
    await closeReader(probe);
    return view.durable;
  }

  /** The sequence number of the `index`-th durable record at or after `from`. */
  private async seqOfIndex(view: PartitionView, from: number, index: number): Promise<number> {
    const probe = newRead(from);
    const batch: TrackedEvent[] = [];
    await this.probe(view, probe, index, batch);
    await closeReader(probe);
    return probe.seq;
  }

  /** Reads up to `max` events of `view` with `probe`, a read of its own: the cursor's position stays as it is. */
  private async probe(view: PartitionView, probe: PartitionRead, max: number, out: TrackedEvent[]): Promise<void> {
    this.probes.set(view.name, probe);
    try {
      await this.readRecords(view, probe, max, out);
    } finally {
      this.probes.delete(view.name);
    }
  }
}

function newRead(seq: number): PartitionRead {
  return { seq, reader: undefined, segmentBase: -1, segmentName: '', durableAtFill: 0 };
}

/** One step of reading a partition: go on with the next record, or stop (caught up, or waiting for the writer). */
type Step = 'next' | 'stop';

/** Returns `event`, the record `seq` of `partition`, and moves the read past it. */
function take(
  read: PartitionRead,
  partition: string,
  seq: number,
  event: TrackedEvent,
  out: TrackedEvent[],
  origins: EventOrigin[] | undefined,
): void {
  out.push(event);
  origins?.push({ partition, seq });
  read.seq = seq + 1;
}

/** Reads the reader's buffer again (at least `need` bytes), noting the durable watermark its bytes are good up to. */
async function refill(read: PartitionRead, durable: number, need = 0): Promise<void> {
  read.durableAtFill = durable;
  await read.reader!.fill(need);
}

/** The segment after `base`, listing the partition's segments again when none is known yet. */
async function segmentAfter(view: PartitionView, base: number): Promise<ReturnType<PartitionView['segmentAfter']>> {
  const next = view.segmentAfter(base);
  if (next) return next;
  await view.refresh();
  return view.segmentAfter(base);
}

async function closeReader(read: PartitionRead): Promise<void> {
  const reader = read.reader;
  read.reader = undefined;
  if (reader) await reader.file.close();
}
