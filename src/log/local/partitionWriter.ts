import { basename, join } from 'node:path';
import { BeaconError } from '../../errors/beaconError.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { LogUsage } from '../eventLog.js';
import { nodeLogFs, isNotFound, type LogFile, type LogFs } from './logFs.js';
import { encodeBatch, parseSegmentName, scanSegment, segmentName, stamp, type EncodedBatch } from './recordFormat.js';

export interface CorruptRecord {
  partition: string;
  segment: string;
  /** File offset where the bad bytes start. */
  offset: number;
}

export interface PartitionWriterOptions {
  /** The partition directory, e.g. `<dataDir>/log/p0`. Created when missing. */
  dir: string;
  fs?: LogFs;
  segmentBytes: number;
  /** This writer's share of `log.maxBytes`. */
  maxBytes: number;
  retryAfterSeconds: number;
  /** Called once per stretch of bad bytes skipped during recovery. */
  onCorrupt?: (record: CorruptRecord) => void;
  /** Called after each group commit with the new durable watermark (next sequence number). */
  onDurable?: (seq: number) => void;
  /** Called after each fdatasync with its duration in seconds. */
  onSync?: (seconds: number) => void;
  now?: () => number;
}

interface PendingAppend {
  batch: EncodedBatch;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface ActiveSegment {
  base: number;
  name: string;
  file: LogFile;
  /** Bytes written (and, between groups, synced). */
  size: number;
}

/** While full, how often the partition's files are re-stated to notice deletions by a reader. */
const FULL_RECHECK_MS = 100;

/**
 * Records of the last segment kept at recovery for `takeRecoveredTail`: more than a kill -9 can
 * leave durable-but-unsettled (the appends of the group commits under way, a few hundred events
 * at tens of thousands a second), few enough to cost milliseconds at start.
 */
const RECOVERED_TAIL_RECORDS = 10_000;

/**
 * The only writer of one partition. Appends are group-committed: every append waiting when
 * a write starts shares one writev and one fdatasync; appends arriving meanwhile wait for the
 * next. An append resolves only after the fdatasync that covers all its records.
 */
export class PartitionWriter {
  readonly partition: string;
  /** Stretches of bad bytes skipped at recovery. */
  corruptRecords = 0;

  private readonly fs: LogFs;
  private readonly now: () => number;
  private readonly listeners = new Set<(seq: number) => void>();
  private active!: ActiveSegment;
  /** Next sequence number to assign. */
  private nextSeq = 0;
  /** Every record below this is synced. */
  private durable = 0;
  /** Bytes of the partition's segments other than the active one. */
  private sealedBytes = 0;
  private pendingBytes = 0;
  private pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  private failure: unknown;
  private lastRecheck = 0;
  private recoveredTail: Buffer[] = [];

  private constructor(private readonly options: PartitionWriterOptions) {
    this.fs = options.fs ?? nodeLogFs;
    this.now = options.now ?? Date.now;
    this.partition = basename(options.dir);
    if (options.onDurable) this.listeners.add(options.onDurable);
  }

  /** Opens the partition, cutting a torn tail and skipping (and counting) corrupt records. */
  static async open(options: PartitionWriterOptions): Promise<PartitionWriter> {
    const writer = new PartitionWriter(options);
    await writer.recover();
    return writer;
  }

  /** Records with a sequence number below this are durable. */
  get durableSeq(): number {
    return this.durable;
  }

  /**
   * The ids of the last records found at open (up to RECOVERED_TAIL_RECORDS, oldest first, from
   * the last segment and, after a recent roll, the end of the one before), handed out once. A
   * kill -9 can land after an append is durable and before the process remembers its ids (the
   * client got no answer and will resend): the id memory learns them from here, so the log,
   * not the id file, has the last word.
   */
  takeRecoveredIds(): string[] {
    const records = this.recoveredTail;
    this.recoveredTail = [];
    const ids: string[] = [];
    for (const payload of records) {
      try {
        const id = (JSON.parse(payload.toString('utf8')) as { id?: unknown }).id;
        if (typeof id === 'string') ids.push(id);
      } catch {
        // A frame passed its CRC, so its text is what was written; nothing to recover otherwise.
      }
    }
    return ids;
  }

  /** Listens for the durable watermark; returns a function that stops listening. */
  onDurable(listener: (seq: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  append(events: readonly TrackedEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new BeaconError('BEACON_E_LOG_CLOSED', 'the event log is closed'));
    if (this.failure !== undefined)
      return Promise.reject(ioError('an earlier write to the event log failed', this.failure));
    if (events.length === 0) return Promise.resolve();
    let batch: EncodedBatch;
    try {
      batch = encodeBatch(events);
    } catch (err) {
      return Promise.reject(err);
    }
    const bytes = batch.buf.length;
    if (this.bytesHeld() + bytes > this.options.maxBytes) return this.appendWhenRoom(batch);
    return this.enqueue(batch);
  }

  usage(): LogUsage {
    const bytes = this.sealedBytes + this.active.size;
    return { bytes, maxBytes: this.options.maxBytes, ratio: Math.min(1, bytes / this.options.maxBytes) };
  }

  /** Re-reads the sizes of the partition's sealed segments (a reader may have deleted some). */
  async refreshUsage(): Promise<void> {
    this.lastRecheck = this.now();
    let total = 0;
    for (const name of await this.fs.readdir(this.options.dir)) {
      if (parseSegmentName(name) === undefined || name === this.active.name) continue;
      try {
        total += (await this.fs.stat(join(this.options.dir, name))).size;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    this.sealedBytes = total;
  }

  /** Waits for appends in flight, then releases the active segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.active.file.close();
  }

  private bytesHeld(): number {
    return this.sealedBytes + this.active.size + this.pendingBytes;
  }

  private async appendWhenRoom(batch: EncodedBatch): Promise<void> {
    const bytes = batch.buf.length;
    if (this.now() - this.lastRecheck >= FULL_RECHECK_MS) {
      try {
        await this.refreshUsage();
      } catch (err) {
        throw ioError('could not re-read the event log directory', err);
      }
    }
    if (this.bytesHeld() + bytes > this.options.maxBytes) {
      const { retryAfterSeconds, maxBytes } = this.options;
      throw new BeaconError(
        'BEACON_E_LOG_FULL',
        `the event log is full (${this.bytesHeld()} of ${maxBytes} bytes held for partition ${this.partition})`,
        {
          retryAfterSeconds,
        },
      );
    }
    return this.enqueue(batch);
  }

  private enqueue(batch: EncodedBatch): Promise<void> {
    if (this.closed) return Promise.reject(new BeaconError('BEACON_E_LOG_CLOSED', 'the event log is closed'));
    this.pendingBytes += batch.buf.length;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    // Let appends made in the same turn of the event loop join the first group.
    await Promise.resolve();
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      let groupBytes = 0;
      for (const p of group) groupBytes += p.batch.buf.length;
      try {
        await this.writeGroup(group);
        this.pendingBytes -= groupBytes;
        for (const p of group) p.resolve();
      } catch (err) {
        this.pendingBytes -= groupBytes;
        const error = ioError('writing to the event log failed', err);
        for (const p of group) p.reject(error);
        await this.undoUnsynced(err);
      }
    }
    this.flushing = undefined;
  }

  /** Writes a group with one writev and one fdatasync (more only when a segment rolls). */
  private async writeGroup(group: PendingAppend[]): Promise<void> {
    const { segmentBytes } = this.options;
    const bufs: Buffer[] = [];
    let bufBytes = 0;
    for (const { batch } of group) {
      if (this.active.size + bufBytes + batch.buf.length <= segmentBytes) {
        stamp(batch, 0, batch.count, this.nextSeq);
        this.nextSeq += batch.count;
        bufs.push(batch.buf);
        bufBytes += batch.buf.length;
        continue;
      }
      // The batch crosses the segment limit: split it at a record boundary and roll.
      let from = 0;
      while (from < batch.count) {
        const room = segmentBytes - this.active.size - bufBytes;
        let to = from;
        while (to < batch.count && batch.offsets[to + 1]! - batch.offsets[from]! <= room) to++;
        if (to === from && this.active.size + bufBytes === 0) to = from + 1; // a record larger than a segment gets one of its own
        if (to > from) {
          stamp(batch, from, to, this.nextSeq);
          this.nextSeq += to - from;
          bufs.push(batch.buf.subarray(batch.offsets[from]!, batch.offsets[to]!));
          bufBytes += batch.offsets[to]! - batch.offsets[from]!;
          from = to;
        }
        if (from < batch.count) {
          await this.sync(bufs, bufBytes);
          bufs.length = 0;
          bufBytes = 0;
          await this.roll();
        }
      }
    }
    await this.sync(bufs, bufBytes);
  }

  private async sync(bufs: Buffer[], bytes: number): Promise<void> {
    if (bytes > 0) {
      await this.active.file.writev(bufs, this.active.size);
      const started = performance.now();
      await this.active.file.datasync();
      this.options.onSync?.((performance.now() - started) / 1000);
      // Only synced bytes count in `size`, so a failed group can be cut back to it.
      this.active.size += bytes;
    }
    if (this.nextSeq !== this.durable) {
      this.durable = this.nextSeq;
      for (const listener of this.listeners) listener(this.durable);
    }
  }

  /** Starts a new segment named by the next sequence number; the old one is already synced. */
  private async roll(): Promise<void> {
    const old = this.active;
    await old.file.close();
    this.sealedBytes += old.size;
    this.active = await this.createSegment(this.nextSeq);
  }

  private async createSegment(base: number): Promise<ActiveSegment> {
    const name = segmentName(base);
    const file = await this.fs.openWrite(join(this.options.dir, name));
    // The directory entry must be durable before records in the file are acknowledged.
    await this.fs.syncDir(this.options.dir);
    return { base, name, file, size: 0 };
  }

  /** After a failed write: cut the active segment back to its synced size, or stop accepting. */
  private async undoUnsynced(cause: unknown): Promise<void> {
    try {
      await this.active.file.truncate(this.active.size);
      await this.active.file.datasync();
      this.nextSeq = this.durable;
    } catch {
      this.failure = cause;
    }
  }

  private async recover(): Promise<void> {
    const { dir } = this.options;
    await this.fs.mkdir(dir);
    const bases = (await this.fs.readdir(dir))
      .map(parseSegmentName)
      .filter((b): b is number => b !== undefined)
      .sort((a, b) => a - b);
    const last = bases[bases.length - 1];
    if (last === undefined) {
      this.active = await this.createSegment(0);
      return;
    }
    for (const base of bases.slice(0, -1)) {
      try {
        this.sealedBytes += (await this.fs.stat(join(dir, segmentName(base)))).size;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const name = segmentName(last);
    const file = await this.fs.openWrite(join(dir, name));
    const tail = new TailFrames(RECOVERED_TAIL_RECORDS);
    const scan = await scanSegment(file, undefined, (offset, bytes) => tail.add(offset, bytes));
    for (const offset of scan.corruptAt) {
      this.corruptRecords++;
      this.options.onCorrupt?.({ partition: this.partition, segment: name, offset });
    }
    // A torn tail (the last write did not finish before a crash; nothing in it was acknowledged)
    // is cut. And whole frames a kill left unsynced (written, the fdatasync under way) are
    // synced now: from here on they are handed to sinks and their ids remembered as stored.
    if (scan.fileSize > scan.validEnd) await file.truncate(scan.validEnd);
    await file.datasync();
    const before = tail.count < RECOVERED_TAIL_RECORDS ? bases[bases.length - 2] : undefined;
    this.recoveredTail = [
      ...(before === undefined ? [] : await this.segmentTail(before, RECOVERED_TAIL_RECORDS - tail.count)),
      ...(await tail.read(file)),
    ];
    this.active = { base: last, name, file, size: scan.validEnd };
    this.nextSeq = scan.lastSeq >= 0 ? scan.lastSeq + 1 : last;
    this.durable = this.nextSeq;
  }

  /** The payloads of the last `records` frames of a sealed segment (a group's first part can end there before a roll). */
  private async segmentTail(base: number, records: number): Promise<Buffer[]> {
    let file: LogFile;
    try {
      file = await this.fs.openRead(join(this.options.dir, segmentName(base)));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    try {
      const tail = new TailFrames(records);
      await scanSegment(file, undefined, (offset, bytes) => tail.add(offset, bytes));
      return await tail.read(file);
    } finally {
      await file.close();
    }
  }
}

function ioError(message: string, cause: unknown): BeaconError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new BeaconError('BEACON_E_LOG_IO', `${message}${detail}`, undefined, { cause });
}

/** The places of the last `capacity` frames seen by a scan, then their payloads in one read. */
class TailFrames {
  private readonly offsets: Float64Array;
  private readonly sizes: Float64Array;
  /** Frames seen (the last `capacity` of them are kept). */
  count = 0;

  constructor(private readonly capacity: number) {
    this.offsets = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
  }

  add(offset: number, bytes: number): void {
    const i = this.count++ % this.capacity;
    this.offsets[i] = offset;
    this.sizes[i] = bytes;
  }

  /** The payloads, oldest first (frames are in file order, so one read from the oldest covers them all). */
  async read(file: LogFile): Promise<Buffer[]> {
    const n = Math.min(this.count, this.capacity);
    if (n === 0) return [];
    const first = (this.count - n) % this.capacity;
    const last = (this.count - 1) % this.capacity;
    const from = this.offsets[first]!;
    const buf = Buffer.allocUnsafe(this.offsets[last]! + this.sizes[last]! - from);
    let got = 0;
    while (got < buf.length) {
      const read = await file.read(buf, got, buf.length - got, from + got);
      if (read === 0) return [];
      got += read;
    }
    const payloads: Buffer[] = [];
    for (let k = 0; k < n; k++) {
      const i = (first + k) % this.capacity;
      const start = this.offsets[i]! - from;
      payloads.push(buf.subarray(start, start + this.sizes[i]!));
    }
    return payloads;
  }
}
