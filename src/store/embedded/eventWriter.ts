import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { LIST, VARCHAR, listValue, type DuckDBConnection } from '@duckdb/node-api';
import type { Counter } from 'prom-client';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { appendEvent, EVENTS_TABLE, wellFormed } from './eventTable.js';
import type { SerialConnection } from './serialConnection.js';

/**
 * Rows appended between yields to the event loop, by `appendRows`. The
 * Appender's calls run on the main thread, ~10 µs a row of a typical browser event here, so a
 * slice holds the collector's requests up for ~1.3 ms at most, not for a whole batch.
 */
const ROWS_PER_SLICE = 128;

/**
 * Writes batches into the events table so that delivering a batch again writes nothing twice.
 *
 * The store keeps one row per log record, and a record is the pair (id, ts): the same record
 * read again after a crash, a replay of the log or of a dead letter carries the same id and
 * the same server receive time. Before appending, one query asks which pairs of the batch
 * are already stored, limited to the batch's time span (so DuckDB reads only the row groups
 * of that span, whatever the table's size), and only the others are appended. Events newer
 * than anything stored skip that query (`maxStoredTs`): measured with bench/storeCost.ts, the
 * query cost ~8 µs of the ~31 µs of CPU per stored event when every event went through it.
 *
 * Tried and not kept (docs/performance.md, 2026-12-06): passing the batch as one string of
 * json-codec lines and letting DuckDB parse it (`from_json` into the table, or `read_ndjson`
 * over a batch file) cost 34-45 µs an event against 23 µs for the Appender with the shortcut:
 * DuckDB's JSON parsing and casts cost more than the JavaScript calls they replace.
 *
 * Why not a PRIMARY KEY with INSERT OR IGNORE from a staging table: measured here on 200k
 * events, that path was 2.3x slower (46 µs against 20 µs an event) and the file 4.4x larger
 * (the key's ART index), and DuckDB does not compact tables that carry one. Why not dedupe
 * at read: every query would pay for it, forever.
 *
 * This is safe because one writer exists: the internal sink's loop delivers one batch at a
 * time, and retention runs on the same serialised connection. A batch is appended in one
 * transaction, so a crash leaves all of it or none; its redelivery then writes nothing or
 * all of it.
 *
 * A client that sends the same event id again in another request makes a second log record
 * with another receive time: both are kept, the second flagged `meta.duplicate` by
 * enrichment, and `byId` answers the first. The same id repeated within ONE request shares
 * that request's receive time (`facts.ts`), so its records have the same (id, ts): only the
 * first is stored and the others are skipped, like a redelivery. Every skip is counted in
 * `beacon_store_embedded_skipped_total{reason}`: `stored` (the pair was already in the table:
 * a redelivery, a replay, or a repeat in an earlier batch) and `batch` (the pair came earlier
 * in the same batch).
 */
export class EventWriter {
  constructor(
    private readonly connection: SerialConnection,
    private readonly skipped?: Counter<'reason'>,
  ) {}

  /**
   * Every stored row has `ts` at most this (read once from the table, raised after each
   * commit; retention only deletes, so it never makes this wrong, only cautious). An event
   * newer than it cannot be stored yet, so only the older ones need the lookup: with live
   * traffic that is the few events of a batch that share the previous batch's last millisecond.
   */
  private maxStoredTs: number | undefined;

  /** Appends the events of `batch` not yet stored; resolves with how many were appended. */
  write(batch: readonly TrackedEvent[]): Promise<number> {
    if (batch.length === 0) return Promise.resolve(0);
    return this.connection.use(async (c) => {
      const fresh = await this.notStored(c, batch);
      if (fresh.length === 0) return 0;
      // The Appender's flush is synchronous: outside a transaction it would also commit, and
      // so fsync the WAL, on the main thread (~10 ms a batch here). Inside one, the flush only
      // moves rows into the transaction and the async COMMIT syncs on a pool thread. It also
      // makes the batch all-or-nothing.
      await c.run('BEGIN TRANSACTION');
      try {
        await this.appendRows(c, fresh);
        await c.run('COMMIT');
      } catch (err) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
      let max = this.maxStoredTs ?? -Infinity;
      for (const e of fresh) if (e.ts > max) max = e.ts;
      this.maxStoredTs = Math.trunc(max);
      return fresh.length;
    });
  }

  /** The Appender: value by value from JavaScript, in slices between which the event loop runs. */
  private async appendRows(c: DuckDBConnection, events: readonly TrackedEvent[]): Promise<void> {
    const appender = await c.createAppender(EVENTS_TABLE);
    try {
      for (let i = 0; i < events.length; i += ROWS_PER_SLICE) {
        if (i > 0) await yieldToLoop();
        for (const event of events.slice(i, i + ROWS_PER_SLICE)) appendEvent(appender, event);
      }
    } finally {
      appender.closeSync();
    }
  }

  /** The events of `batch` whose (id, ts) is neither stored nor earlier in the batch. */
  private async notStored(c: DuckDBConnection, batch: readonly TrackedEvent[]): Promise<TrackedEvent[]> {
    this.maxStoredTs ??= await readMaxTs(c);
    const newest = this.maxStoredTs;
    let min = Infinity;
    let max = -Infinity;
    const ids = new Set<string>();
    for (const e of batch) {
      if (!(Math.trunc(e.ts) > newest)) {
        if (e.ts < min) min = e.ts;
        if (e.ts > max) max = e.ts;
        ids.add(wellFormed(e.id));
      }
    }
    const stored = new Set<string>();
    if (ids.size > 0) {
      const reader = await c.runAndReadAll(
        `SELECT id, ts FROM ${EVENTS_TABLE} WHERE ts BETWEEN $min AND $max AND id IN (SELECT unnest($ids))`,
        { min: BigInt(Math.trunc(min)), max: BigInt(Math.trunc(max)), ids: listValue([...ids]) },
        { ids: LIST(VARCHAR) },
      );
      for (const [id, ts] of reader.getRowsJS()) stored.add(key(String(id), Number(ts)));
    }
    const inBatch = new Set<string>();
    const fresh: TrackedEvent[] = [];
    let skippedStored = 0;
    let skippedInBatch = 0;
    for (const e of batch) {
      const k = key(wellFormed(e.id), Math.trunc(e.ts));
      if (stored.has(k)) {
        skippedStored++;
        continue;
      }
      if (inBatch.has(k)) {
        skippedInBatch++;
        continue;
      }
      inBatch.add(k);
      fresh.push(e);
    }
    if (skippedStored > 0) this.skipped?.inc({ reason: 'stored' }, skippedStored);
    if (skippedInBatch > 0) this.skipped?.inc({ reason: 'batch' }, skippedInBatch);
    return fresh;
  }
}

/** The largest stored `ts` (-Infinity for an empty table): DuckDB answers from the column's row-group statistics and the last row groups. */
async function readMaxTs(c: DuckDBConnection): Promise<number> {
  const value = (await c.runAndReadAll(`SELECT max(ts) FROM ${EVENTS_TABLE}`)).getRowsJS()[0]?.[0];
  return value === null || value === undefined ? -Infinity : Number(value);
}

function key(id: string, ts: number): string {
  return `${ts}\u0000${id}`;
}
