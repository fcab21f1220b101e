import type * as ClickHouse from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import {
  CONNECTION_CLOSE_MS,
  SinkError,
  type Attempt,
  type RejectedEvent,
  type Sink,
  type SinkContext,
  type SinkDeadlines,
  whenAborted,
} from '../sink.js';
import {
  encode,
  literal,
  quoteIdent,
  quoteTable,
  tableParts,
  createTableSql,
  type TableTarget,
} from '../../sql/clickhouse.js';
import { columnMapping, valueAt, type ColumnMapping } from '../sqlColumns.js';
import type { ClickHouseSinkConfig } from './index.js';
import { badRow, classifyClickHouseError, rowReason, type ClickHouseWhere } from './clickhouseErrors.js';
import { noTable, requireMappedColumns } from '../sqlTableChecks.js';
import { lazyRequire } from '../../net/lazyRequire.js';

const clickhouse = lazyRequire<typeof ClickHouse>('@clickhouse/client');

/** The attempt of a `deliver` called outside the loop: never aborted (the client's request_timeout still bounds each request). */
const UNBOUNDED: Attempt = { signal: new AbortController().signal };

/** Rows the sink names from the server's `(at row N)` pointer in one attempt before it lets the dispatcher bisect. */
const MAX_NAMED_ROWS = 64;

/**
 * Writes each batch with one `INSERT INTO <table> (<columns>) FORMAT JSONEachRow` over the
 * HTTP interface (client: @clickhouse/client), one attempt per `deliver`.
 *
 * - Idempotent in the end, not at once: the table is a ReplacingMergeTree ordered by the id,
 *   so a batch written again collapses to one row per id when ClickHouse merges the parts
 *   (eventually, in the background); `SELECT ... FINAL` reads the collapsed view at once.
 * - An INSERT of one batch is one block (batches stay far below max_insert_block_size), so
 *   it goes in whole or not at all.
 * - Bad rows: when the server refuses a value it names the row (`(at row N)`); the sink sets
 *   that row aside with the server's message and sends the rest again in the same attempt,
 *   so k bad rows cost k + 1 INSERTs. When the server names no row (a MATERIALIZED or
 *   DEFAULT expression failing for the block), the sink reports the batch as refused and the
 *   dispatcher bisects it. Inserting row by row is avoided on purpose: each INSERT makes a
 *   part, and hundreds of one-row parts trip "too many parts" (Code 252).
 */
export class ClickHouseSink implements Sink {
  private readonly mapping: ColumnMapping;
  private readonly where: ClickHouseWhere;
  private readonly target: TableTarget;
  private client: ClickHouseClient | undefined;
  private columnTypes: string[] = [];
  /**
   * The loop bounds an attempt (its INSERTs, a bad row's resend included) by
   * requestTimeoutMs; the attempt's signal aborts the INSERT in flight (`abort_signal`), and
   * a timed-out attempt is retried, as a timed-out request always was.
   */
  readonly deadlines: SinkDeadlines;

  constructor(
    private readonly config: ClickHouseSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
  ) {
    this.mapping = columnMapping(config.columns);
    this.target = tableParts(config.table, config.database);
    const url = new URL(config.url);
    this.where = {
      url: `${url.protocol}//${url.host}`,
      database: this.target.database,
      user: config.user,
      table: `${this.target.database}.${this.target.table}`,
    };
    this.deadlines = {
      attemptMs: config.requestTimeoutMs,
      timedOut: (ms) =>
        new SinkError('retry', `clickhouse ${this.where.url}: no answer within ${ms} ms (requestTimeoutMs)`, {
          errorType: 'timeout',
        }),
      closeMs: CONNECTION_CLOSE_MS,
    };
  }

  async open(): Promise<void> {
    if (this.client) return;
    const client = clickhouse().createClient({
      url: this.config.url,
      username: this.config.user,
      password: this.config.password,
      request_timeout: this.config.requestTimeoutMs,
      application: `beacon-sink-${this.context.name}`,
      log: { level: clickhouse().ClickHouseLogLevel.OFF },
    });
    try {
      const ping = await client.ping();
      if (!ping.success) throw ping.error;
      if (this.config.createTable) {
        await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdent(this.target.database)}` });
        await client.command({ query: createTableSql(this.target, this.mapping) });
      }
      this.columnTypes = await this.describeTable(client);
      this.client = client;
    } catch (err) {
      await client.close().catch(() => {});
      throw classifyClickHouseError(err, this.where);
    }
  }

  async deliver(batch: readonly TrackedEvent[], attempt: Attempt = UNBOUNDED): Promise<void> {
    const client = this.client;
    if (!client) throw new SinkError('reconnect', 'clickhouse sink is not connected', { errorType: 'not_open' });
    let pending = batch.map((event, index) => ({ index, row: this.row(event) }));
    const rejected: RejectedEvent[] = [];
    let errorType = 'ch_data';
    const started = performance.now();
    while (pending.length > 0) {
      try {
        await this.insert(
          client,
          pending.map((p) => p.row),
          attempt.signal,
        );
        break;
      } catch (err) {
        // A lost connection is `reconnect`: the dispatcher calls close() and open(), which makes a new client.
        const failure = classifyClickHouseError(err, this.where);
        if (failure.kind !== 'reject') throw failure;
        const row = pending.length === 1 ? 1 : badRow(err);
        // No row named (or too many): the dispatcher bisects the batch to find the bad events.
        if (row === undefined || row > pending.length || rejected.length >= MAX_NAMED_ROWS) throw failure;
        // The attempt's deadline covers every resend: past half of it, the dispatcher bisects
        // instead (each half a fresh attempt), rather than this attempt timing out again and again.
        if (performance.now() - started > this.config.requestTimeoutMs / 2) throw failure;
        rejected.push({ index: pending[row - 1]!.index, reason: rowReason(err) });
        errorType = failure.errorType;
        pending = pending.filter((_, i) => i !== row - 1);
      }
    }
    if (rejected.length > 0) {
      throw new SinkError(
        'reject',
        `clickhouse refused ${rejected.length} of ${batch.length} row(s) of the batch: ${rejected[0]!.reason}`,
        { errorType, rejected },
      );
    }
  }

  /** Called without a signal (directly), the usual connection deadline applies. */
  async close(signal: AbortSignal = AbortSignal.timeout(CONNECTION_CLOSE_MS)): Promise<void> {
    const client = this.client;
    this.client = undefined;
    // Every deliver waits for its INSERT, so nothing is buffered here; sockets that do not
    // close by the deadline are left behind (the client keeps no other state).
    if (client) await Promise.race([client.close().catch(() => {}), whenAborted(signal)]);
  }

  private row(event: TrackedEvent): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    this.mapping.sources.forEach((source, i) => {
      const value = encode(valueAt(event, source), this.columnTypes[i]!);
      if (value !== undefined) row[this.mapping.columns[i]!] = value;
    });
    return row;
  }

  private async insert(client: ClickHouseClient, rows: Record<string, unknown>[], signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    await client.insert({
      abort_signal: signal,
      table: quoteTable(this.target),
      columns: this.mapping.columns.map(quoteIdent) as [string, ...string[]],
      values: rows,
      format: 'JSONEachRow',
    });
  }

  /** The type of every mapped column; fatal when the database, table or a column is missing. */
  private async describeTable(client: ClickHouseClient): Promise<string[]> {
    const db = literal(this.target.database);
    const tbl = literal(this.target.table);
    const read = async <T>(query: string) => (await client.query({ query, format: 'JSONEachRow' })).json<T>();
    const at = `clickhouse ${this.where.url}`;
    const tables = await read<{ engine: string; sorting_key: string }>(
      `SELECT engine, sorting_key FROM system.tables WHERE database = ${db} AND name = ${tbl}`,
    );
    if (tables.length === 0) {
      const dbs = await read<{ name: string }>(`SELECT name FROM system.databases WHERE name = ${db}`);
      if (dbs.length === 0) {
        throw new SinkError(
          'fatal',
          `${at}: database ${this.target.database} does not exist: check "database" (or the table's prefix), create it, or set createTable: true`,
          { errorType: 'no_database' },
        );
      }
      throw noTable(at, this.where.table);
    }
    const { engine, sorting_key: sortingKey } = tables[0]!;
    if (!/ReplacingMergeTree$/.test(engine) || sortingKey.replaceAll('`', '').trim() !== this.mapping.idColumn) {
      this.context.logger.warn(
        { sink: this.context.name, engine, sortingKey },
        `clickhouse table ${this.where.table} is not a ReplacingMergeTree ordered by ${this.mapping.idColumn}: redelivered events will stay as duplicate rows`,
      );
    }
    const columns = await read<{ name: string; type: string }>(
      `SELECT name, type FROM system.columns WHERE database = ${db} AND table = ${tbl}`,
    );
    const types = new Map(columns.map((c) => [c.name, c.type]));
    requireMappedColumns(at, this.where.table, this.mapping, types);
    return this.mapping.columns.map((c) => types.get(c)!);
  }
}
