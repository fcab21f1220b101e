import { join } from 'node:path';
import type { Cursor, CursorOptions, LogPosition, LogUsage } from '../eventLog.js';
import { CursorStore, unreadableCursor } from './cursorStore.js';
import { storedPositionProblem } from './positionRange.js';
import { LocalCursor, type CursorHost } from './localCursor.js';
import { nodeLogFs, isNotFound, type LogFs } from './logFs.js';
import { PartitionView } from './partition.js';
import { RecentRecords } from './recentRecords.js';
import type { CorruptRecord } from './partitionWriter.js';
import { scanSegment } from './recordFormat.js';

export interface LocalLogReaderOptions {
  /** The log directory holding `p0`, `p1`, ... and `cursors/`. */
  dir: string;
  fs?: LogFs;
  /** Total `log.maxBytes`, reported by `usage()`. */
  maxBytes: number;
  /**
   * Each writer's share of maxBytes. Only used while no persistent cursor has been opened:
   * then nobody consumes, and sealed segments of a partition holding more than 80% of this
   * are deleted oldest first, so that intake does not stop for want of a reader.
   */
  partitionMaxBytes?: number;
  cursorSyncMs: number;
  /** How often retention runs besides after each cursor save (ms, default 1000). */
  retentionIntervalMs?: number;
  /** Read size for segments (default 1 MiB). */
  chunkBytes?: number;
  /** Called once per stretch of bad bytes a cursor skips (deduplicated across cursors). */
  onCorrupt?: (record: CorruptRecord) => void;
}

export const PARTITION_PATTERN = /^p\d+$/;

/**
 * The reading side of the local log: every partition under the directory, their durable
 * watermarks, the named cursors, and retention. It never writes segments; it deletes the
 * sealed ones that every persistent cursor has passed (as persisted).
 */
export class LocalLogReader {
  /** Stretches of bad bytes skipped by cursors. */
  corruptRecords = 0;

  private readonly fs: LogFs;
  private readonly views = new Map<string, PartitionView>();
  private viewList: PartitionView[] = [];
  private readonly store: CursorStore;
  private readonly openCursors = new Map<string, LocalCursor>();
  private readonly ephemeralCursors = new Set<LocalCursor>();
  /** Persisted positions of every persistent cursor opened in this run (open or closed). */
  private readonly persistedPositions = new Map<string, LogPosition>();
  private readonly corruptSeen = new Set<string>();
  private readonly deletedListeners = new Set<(partition: string) => void>();
  private waiters = new Set<() => void>();
  private version_ = 0;
  private retention: Promise<void> | undefined;
  private retentionAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private isClosed = false;

  private readonly host: CursorHost;
  private readonly recent = new RecentRecords();

  private constructor(private readonly options: LocalLogReaderOptions) {
    this.fs = options.fs ?? nodeLogFs;
    this.store = new CursorStore(this.fs, options.dir);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the host's getter reads the live version
    const reader = this;
    this.host = {
      fs: this.fs,
      chunkBytes: options.chunkBytes ?? 1 << 20,
      cursorSyncMs: options.cursorSyncMs,
      recent: this.recent,
      get version() {
        return reader.version_;
      },
      partitionViews: () => this.viewList,
      waitForDurable: (ms, signal) => this.waitForDurable(ms, signal),
      reportCorrupt: (partition, segment, offset) => this.reportCorrupt({ partition, segment, offset }),
      save: (name, position) => this.store.save(name, position),
      persisted: (name, position) => {
        this.persistedPositions.set(name, position);
        this.enforceRetention().catch(() => undefined);
      },
      closed: (cursor) => {
        if (cursor.ephemeral) this.ephemeralCursors.delete(cursor);
        else {
          this.openCursors.delete(cursor.name);
          this.persistedPositions.set(cursor.name, cursor.persistedSnapshot);
        }
        this.countReaders();
      },
    };
  }

  /**
   * Opens every partition under `dir`. The valid records already on disk count as durable:
   * they were written before this start (a writer running now should report its own
   * watermark with `setDurable`, which only ever moves forward).
   */
  static async open(options: LocalLogReaderOptions): Promise<LocalLogReader> {
    const reader = new LocalLogReader(options);
    await reader.fs.mkdir(options.dir);
    await reader.store.init();
    for (const name of await reader.fs.readdir(options.dir)) {
      if (!PARTITION_PATTERN.test(name)) continue;
      const view = reader.addPartition(name);
      await view.refresh(true);
      view.durable = await durableOnDisk(reader.fs, view);
    }
    const interval = options.retentionIntervalMs ?? 1000;
    reader.timer = setInterval(() => reader.enforceRetention().catch(() => undefined), interval);
    reader.timer.unref?.();
    return reader;
  }

  private countReaders(): void {
    this.recent.setReaders(this.openCursors.size + this.ephemeralCursors.size);
  }

  partitions(): string[] {
    return this.viewList.map((v) => v.name);
  }

  durableSeq(partition: string): number {
    return this.views.get(partition)?.durable ?? 0;
  }

  /** Raises a partition's readable limit (records below `seq`) and wakes waiting cursors. */
  setDurable(partition: string, seq: number): void {
    const view = this.views.get(partition) ?? this.addPartition(partition);
    if (seq <= view.durable) return;
    view.durable = seq;
    this.version_++;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  async cursor(name: string, options: CursorOptions = {}): Promise<Cursor> {
    if (this.isClosed) throw new Error('the log reader is closed');
    if (options.ephemeral) {
      const end: Record<string, number> = {};
      for (const view of this.viewList) end[view.name] = view.durable;
      const cursor = new LocalCursor(name, true, this.host, end);
      this.ephemeralCursors.add(cursor);
      this.countReaders();
      return cursor;
    }
    if (this.openCursors.has(name)) throw new Error(`cursor "${name}" is already open`);
    const start = (await this.store.load(name)) ?? {};
    for (const view of this.viewList) await view.refresh();
    const problem = storedPositionProblem(start, this.viewList);
    if (problem) throw unreadableCursor(name, this.store.pathOf(name), problem);
    const cursor = new LocalCursor(name, false, this.host, start, options.origins === true);
    this.openCursors.set(name, cursor);
    this.countReaders();
    this.persistedPositions.set(name, start);
    return cursor;
  }

  /** A closed cursor whose sink is gone no longer holds retention (EventLog.forgetCursor); an open one is left alone. */
  forgetCursor(name: string): void {
    if (this.openCursors.has(name)) return;
    if (this.persistedPositions.delete(name)) this.enforceRetention().catch(() => undefined);
  }

  /** Bytes held by all partitions, as of the last retention pass (or open). */
  usage(): LogUsage {
    let bytes = 0;
    for (const view of this.viewList) bytes += view.bytes();
    return { bytes, maxBytes: this.options.maxBytes, ratio: Math.min(1, bytes / this.options.maxBytes) };
  }

  /** Bytes of one partition as of the last retention pass. */
  partitionBytes(partition: string): number {
    return this.views.get(partition)?.bytes() ?? 0;
  }

  /** Called after segments of `partition` were deleted (an in-process writer re-reads its usage). */
  onSegmentsDeleted(listener: (partition: string) => void): () => void {
    this.deletedListeners.add(listener);
    return () => this.deletedListeners.delete(listener);
  }

  /** Deletes sealed segments no persistent cursor needs any more. Runs one pass at a time. */
  enforceRetention(): Promise<void> {
    if (this.retention) {
      this.retentionAgain = true;
      return this.retention;
    }
    this.retention = (async () => {
      try {
        do {
          this.retentionAgain = false;
          for (const view of this.viewList) await this.retainPartition(view);
        } while (this.retentionAgain && !this.isClosed);
      } finally {
        this.retention = undefined;
      }
    })();
    return this.retention;
  }

  /** Persists every cursor and stops. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    if (this.timer) clearInterval(this.timer);
    for (const cursor of [...this.openCursors.values(), ...this.ephemeralCursors]) await cursor.close();
    this.isClosed = true;
    await this.retention;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  private addPartition(name: string): PartitionView {
    const view = new PartitionView(name, join(this.options.dir, name), this.fs);
    this.views.set(name, view);
    this.viewList = [...this.views.values()].sort((a, b) => Number(a.name.slice(1)) - Number(b.name.slice(1)));
    return view;
  }

  private async retainPartition(view: PartitionView): Promise<void> {
    await view.refresh(true);
    const segments = view.segments;
    const floors: number[] = [];
    for (const [name, persisted] of this.persistedPositions) {
      const open = this.openCursors.get(name);
      floors.push(open ? open.retentionFloor(view.name) : (persisted[view.name] ?? 0));
    }
    const budget = this.options.partitionMaxBytes;
    let bytes = view.bytes();
    let deleted = 0;
    // Never the last segment: it is (or will be again) the writer's active segment.
    for (let i = 0; i < segments.length - 1; i++) {
      const nextBase = segments[i + 1]!.base;
      if (nextBase > view.durable) break;
      const passed =
        floors.length > 0 ? floors.every((f) => f >= nextBase) : budget !== undefined && bytes > 0.8 * budget;
      if (!passed) break;
      try {
        await this.fs.unlink(segments[i]!.path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      bytes -= segments[i]!.size;
      deleted++;
    }
    if (deleted === 0) return;
    view.segments = segments.slice(deleted);
    for (const listener of this.deletedListeners) listener(view.name);
  }

  /** Counts a stretch of bad bytes once, however many cursors meet it. */
  reportCorrupt(record: CorruptRecord): void {
    const key = `${record.partition}/${record.segment}@${record.offset}`;
    if (this.corruptSeen.has(key)) return;
    this.corruptSeen.add(key);
    this.corruptRecords++;
    this.options.onCorrupt?.(record);
  }

  private waitForDurable(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.isClosed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }
}

/** The watermark implied by what is on disk: after the last valid record of the last segment. */
async function durableOnDisk(fs: LogFs, view: PartitionView): Promise<number> {
  for (let i = view.segments.length - 1; i >= 0; i--) {
    const segment = view.segments[i]!;
    let file;
    try {
      file = await fs.openRead(segment.path);
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
    try {
      const scan = await scanSegment(file);
      if (scan.lastSeq >= 0) return scan.lastSeq + 1;
      // An empty last segment: everything before its base was sealed by the writer.
      if (i === view.segments.length - 1) return segment.base;
    } finally {
      await file.close();
    }
  }
  return 0;
}
