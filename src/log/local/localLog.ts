import { join } from 'node:path';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { Cursor, CursorOptions, EventLog, LogUsage } from '../eventLog.js';
import { LocalLogReader } from './logReader.js';
import type { LogFs } from './logFs.js';
import { PartitionWriter, type CorruptRecord } from './partitionWriter.js';

export interface LocalLogOptions {
  /** The log directory, e.g. `<dataDir>/log`. */
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  cursorSyncMs: number;
  retryAfterSeconds: number;
  fs?: LogFs;
  /** Called once per stretch of bad bytes skipped (at recovery or by a cursor). */
  onCorrupt?: (record: CorruptRecord) => void;
  /** Called after every fdatasync with its duration, for `beacon_log_fsync_seconds`. */
  onSync?: (seconds: number) => void;
  retentionIntervalMs?: number;
  chunkBytes?: number;
}

/**
 * The single-process local log: one writer on `p0`, and a reader over every partition found
 * (partitions left by an earlier multi-process run are read to their end), wired in-process.
 */
export class LocalLog implements EventLog {
  private constructor(
    readonly writer: PartitionWriter,
    readonly reader: LocalLogReader,
    private readonly corrupt: { count: number },
  ) {}

  static async open(options: LocalLogOptions): Promise<LocalLog> {
    const wired: { reader?: LocalLogReader } = {};
    const seen = new Set<string>();
    const corrupt = { count: 0 };
    // Recovery and cursors may meet the same bad bytes: count each stretch once.
    const onCorrupt = (record: CorruptRecord) => {
      const key = `${record.partition}/${record.segment}@${record.offset}`;
      if (seen.has(key)) return;
      seen.add(key);
      corrupt.count++;
      options.onCorrupt?.(record);
    };
    const writer = await PartitionWriter.open({
      dir: join(options.dir, 'p0'),
      fs: options.fs,
      segmentBytes: options.segmentBytes,
      maxBytes: options.maxBytes,
      retryAfterSeconds: options.retryAfterSeconds,
      onCorrupt,
      onSync: options.onSync,
      onDurable: (seq) => wired.reader?.setDurable('p0', seq),
    });
    const reader = await LocalLogReader.open({
      dir: options.dir,
      fs: options.fs,
      maxBytes: options.maxBytes,
      partitionMaxBytes: options.maxBytes,
      cursorSyncMs: options.cursorSyncMs,
      retentionIntervalMs: options.retentionIntervalMs,
      chunkBytes: options.chunkBytes,
      onCorrupt,
    });
    wired.reader = reader;
    reader.setDurable('p0', writer.durableSeq);
    reader.onSegmentsDeleted((partition) => {
      if (partition === 'p0') writer.refreshUsage().catch(() => undefined);
    });
    return new LocalLog(writer, reader, corrupt);
  }

  async append(events: readonly TrackedEvent[]): Promise<void> {
    try {
      await this.writer.append(events);
    } catch (err) {
      // Full: give retention a chance now rather than at its next tick.
      if ((err as { code?: unknown }).code === 'BEACON_E_LOG_FULL')
        this.reader.enforceRetention().catch(() => undefined);
      throw err;
    }
  }

  takeRecoveredIds(): string[] {
    return this.writer.takeRecoveredIds();
  }

  cursor(name: string, options?: CursorOptions): Promise<Cursor> {
    return this.reader.cursor(name, options);
  }

  forgetCursor(name: string): void {
    this.reader.forgetCursor(name);
  }

  usage(): LogUsage {
    let bytes = this.writer.usage().bytes;
    for (const partition of this.reader.partitions())
      if (partition !== 'p0') bytes += this.reader.partitionBytes(partition);
    const maxBytes = this.writer.usage().maxBytes;
    return { bytes, maxBytes, ratio: Math.min(1, bytes / maxBytes) };
  }

  /** Stretches of bad bytes skipped so far (recovery and reads, each counted once). */
  get corruptRecords(): number {
    return this.corrupt.count;
  }

  async close(): Promise<void> {
    await this.writer.close();
    await this.reader.close();
  }
}

export function openLocalLog(options: LocalLogOptions): Promise<LocalLog> {
  return LocalLog.open(options);
}
