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

  /** Listens for the durable watermark; returns a function that stops listening. */
  onDurable(listener: (seq: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  append(events: readonly TrackedEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new BeaconError('BEACON_E_LOG_CLOSED', 'the event log is closed'));
    if (this.failure !== undefined) return Promise.reject(ioError('an earlier write to the event log failed', this.failure));
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
      throw new BeaconError('BEACON_E_LOG_FULL', `the event log is full (${this.bytesHeld()} of ${maxBytes} bytes held for partition ${this.partition})`, {
        retryAfterSeconds,
      });
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
    const scan = await scanSegment(file);
    for (const offset of scan.corruptAt) {
      this.corruptRecords++;
      this.options.onCorrupt?.({ partition: this.partition, segment: name, offset });
    }
    if (scan.fileSize > scan.validEnd) {
      // A torn tail: the last write did not finish before a crash. Nothing in it was acknowledged.
      await file.truncate(scan.validEnd);
      await file.datasync();
    }
    this.active = { base: last, name, file, size: scan.validEnd };
    this.nextSeq = scan.lastSeq >= 0 ? scan.lastSeq + 1 : last;
    this.durable = this.nextSeq;
  }
}

function ioError(message: string, cause: unknown): BeaconError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new BeaconError('BEACON_E_LOG_IO', `${message}${detail}`, undefined, { cause });
}
