import type { Logger } from 'pino';
import type { Clock } from '../../ops/clock.js';
import { EVENTS_TABLE } from './eventTable.js';
import type { StoreDatabase, StoreSize } from './storeDatabase.js';
import type { EmbeddedStoreMetrics } from './storeMetrics.js';
import { STORE_EVENTS } from '../internalEvents.js';

export interface RetentionRules {
  /** Delete events older than this (ms); 0: no age limit. */
  maxAgeMs: number;
  /** Delete the oldest events while the data passes this (bytes); 0: no size limit. */
  maxBytes: number;
}

export interface RetentionResult {
  deletedByAge: number;
  deletedBySize: number;
  size: StoreSize;
}

/** After a size-driven delete the data aims this far under maxBytes, so the next run has room to grow into. */
const SIZE_TARGET = 0.9;

/**
 * Deletes old events: first everything past `maxAge`, then, when the data passes `maxBytes`,
 * the oldest events by time. A CHECKPOINT follows any delete, because DuckDB frees blocks
 * only then.
 *
 * What DuckDB does with the space (measured, docs/query-api.md): the file never shrinks.
 * A checkpoint frees the blocks of row groups (122,880 rows) whose rows are all deleted, or
 * that its vacuum merges away; the next appends reuse free blocks, so the file stops growing
 * once retention deletes as much as arrives. A row group only partly deleted keeps all its
 * blocks until the rest of it goes. So the store measures the used blocks (`PRAGMA
 * database_size`) plus the WAL (events since the last checkpoint, uncompressed, up to
 * DuckDB's 16 MiB threshold), and `maxBytes` bounds the live events' share of that: the used
 * bytes can pass it by up to one row group of deleted events not yet freed.
 *
 * Runs on the writer connection, between the internal sink's batches.
 */
export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: StoreDatabase,
    private readonly rules: RetentionRules,
    private readonly deps: { clock: Pick<Clock, 'now'>; logger: Logger; metrics: EmbeddedStoreMetrics },
  ) {}

  /**
   * Runs once now, in the background (a large delete at start must not hold up readiness),
   * then every `everyMs` (unref'd, so it never holds the process open); a run still going skips a tick.
   */
  start(everyMs: number): void {
    const tick = () => {
      if (this.running) return;
      this.running = this.run()
        .catch((err: unknown) => STORE_EVENTS.storeRetentionFailed.emit(this.deps, { err }))
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass of both rules; also reports the store's size as metrics. */
  async run(): Promise<RetentionResult> {
    const started = this.deps.clock.now();
    let deletedByAge = 0;
    if (this.rules.maxAgeMs > 0) deletedByAge = await this.deleteBefore(started - this.rules.maxAgeMs);
    if (deletedByAge > 0) await this.checkpoint();
    let size = await this.db.size();
    let deletedBySize = 0;
    if (this.rules.maxBytes > 0 && stored(size) > this.rules.maxBytes) {
      // The WAL holds rows uncompressed (~8x their size in the file here): measure them compressed first.
      if (size.walBytes > 0) {
        await this.checkpoint();
        size = await this.db.size();
      }
      deletedBySize = await this.deleteOverSize(size);
      if (deletedBySize > 0) {
        await this.checkpoint();
        size = await this.db.size();
      }
    }
    // The deletes are counted (and logged) before the row count is read, so a failing count still counts them.
    if (deletedByAge + deletedBySize > 0) {
      STORE_EVENTS.storeRetention.emit(this.deps, {
        deletedByAge,
        deletedBySize,
        fileBytes: size.fileBytes,
        usedBytes: stored(size),
        ms: this.deps.clock.now() - started,
      });
    }
    const { metrics } = this.deps;
    metrics.fileBytes.set(size.fileBytes);
    metrics.usedBytes.set(stored(size));
    metrics.rows.set((await this.rowCounts()).live);
    return { deletedByAge, deletedBySize, size };
  }

  /**
   * Deletes the oldest events so that the live ones fit in SIZE_TARGET of maxBytes. Their
   * size is estimated as the stored bytes times the share of live rows among the rows the
   * file still holds (deleted rows keep their space until their row group is freed), so a
   * delete whose space DuckDB has not freed yet is not made again by the next run.
   */
  private async deleteOverSize(size: StoreSize): Promise<number> {
    const { live, physical } = await this.rowCounts();
    if (live === 0 || physical === 0) return 0;
    const bytesPerRow = stored(size) / physical;
    if (live * bytesPerRow <= this.rules.maxBytes) return 0;
    const excess = Math.ceil(live - (this.rules.maxBytes * SIZE_TARGET) / bytesPerRow);
    return this.deleteOldest(Math.min(live, excess));
  }

  private deleteBefore(cutoff: number): Promise<number> {
    return this.db.writer.use(
      async (c) =>
        (await c.run(`DELETE FROM ${EVENTS_TABLE} WHERE ts < $cutoff`, { cutoff: BigInt(Math.trunc(cutoff)) }))
          .rowsChanged,
    );
  }

  /** Deletes the `n` oldest events, or a few more: every event of the last millisecond cut goes, so a rerun cuts at the same place. */
  private deleteOldest(n: number): Promise<number> {
    return this.db.writer.use(async (c) => {
      const edge = await c.runAndReadAll(`SELECT ts FROM ${EVENTS_TABLE} ORDER BY ts LIMIT 1 OFFSET $skip`, {
        skip: BigInt(n - 1),
      });
      const cutoff = edge.getRowsJS()[0]?.[0];
      if (cutoff === undefined) return 0;
      return (await c.run(`DELETE FROM ${EVENTS_TABLE} WHERE ts <= $cutoff`, { cutoff: BigInt(cutoff as bigint) }))
        .rowsChanged;
    });
  }

  private async checkpoint(): Promise<void> {
    await this.db.writer.use((c) => c.run('CHECKPOINT'));
  }

  /** Events in the table (`live`), and rows the file holds for it, deleted ones not yet freed included (`physical`). */
  private rowCounts(): Promise<{ live: number; physical: number }> {
    return this.db.writer.use(async (c) => {
      const live = Number((await c.runAndReadAll(`SELECT count(*) FROM ${EVENTS_TABLE}`)).getRowsJS()[0]?.[0] ?? 0);
      const physical = await c.runAndReadAll(
        `SELECT coalesce(sum(count), 0) FROM pragma_storage_info('${EVENTS_TABLE}') WHERE column_name = 'ts' AND segment_type <> 'VALIDITY'`,
      );
      return { live, physical: Number(physical.getRowsJS()[0]?.[0] ?? 0) };
    });
  }
}

/** What `maxBytes` bounds: data blocks in the file plus the WAL not yet checkpointed into it. */
function stored(size: StoreSize): number {
  return size.usedBytes + size.walBytes;
}
