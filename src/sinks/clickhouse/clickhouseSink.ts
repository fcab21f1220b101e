import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { SinkError, type RejectedEvent, type Sink, type SinkContext } from '../sink.js';
import { alwaysPresent, columnMapping, sourceKind, valueAt, type ColumnMapping, type SourceKind } from '../sqlColumns.js';
import type { ClickHouseSinkConfig } from './index.js';
import { badRow, classifyClickHouseError, rowReason, type ClickHouseWhere } from './clickhouseErrors.js';

/**
 * Column types `createTable` uses for each kind of source. ClickHouse 18.16 has no
 * DateTime64, so times are epoch milliseconds in a UInt64 (exact, and what the event holds).
 */
const CREATE_TYPES: Record<SourceKind, string> = {
  id: 'String',
  text: 'String',
  longText: 'String',
  time: 'UInt64',
  json: 'String',
};

/** Rows the sink names from the server's `(at row N)` pointer in one attempt before it lets the dispatcher bisect. */
const MAX_NAMED_ROWS = 64;

export function quoteIdent(name: string): string {
  return `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;
}

/** `database.table`, split: the table's own prefix wins over the `database` option. */
export function tableParts(table: string, database: string): { database: string; table: string } {
  const dot = table.indexOf('.');
  return dot < 0 ? { database, table } : { database: table.slice(0, dot), table: table.slice(dot + 1) };
}

function literal(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * The CREATE TABLE statement `createTable` runs (and docs/sinks.md shows for the default
 * mapping): a ReplacingMergeTree ordered by the id column, so rows written twice collapse
 * into one at merge time. The partition key must be a function of the row's own content
 * (never of the insert time), or a redelivery could land in another partition and never meet
 * its twin: it is the month of `ts` when `ts` is mapped, else there is one partition.
 */
export function createTableSql(table: { database: string; table: string }, mapping: ColumnMapping): string {
  const lines = mapping.columns.map((column, i) => {
    const source = mapping.sources[i]!;
    const type = CREATE_TYPES[sourceKind(source)];
    return `${quoteIdent(column)} ${alwaysPresent(source) ? type : `Nullable(${type})`}`;
  });
  if (!mapping.columns.includes('received_at')) lines.push('`received_at` DateTime DEFAULT now()');
  const tsColumn = mapping.columns[mapping.sources.indexOf('ts')];
  const partition = tsColumn ? `\nPARTITION BY toYYYYMM(toDate(intDiv(${quoteIdent(tsColumn)}, 1000)))` : '';
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(table.database)}.${quoteIdent(table.table)} (\n  ${lines.join(',\n  ')}\n) ENGINE = ReplacingMergeTree()${partition}\nORDER BY (${quoteIdent(mapping.idColumn)})`;
}

/** A column's type without Nullable(...) / LowCardinality(...) around it. */
function baseType(type: string): string {
  const inner = /^(?:Nullable|LowCardinality)\((.*)\)$/.exec(type);
  return inner ? baseType(inner[1]!) : type;
}

/** `baseType` per type string: `encode` runs for every value of every row, a table has few types. */
const baseTypes = new Map<string, string>();

function cachedBaseType(type: string): string {
  let base = baseTypes.get(type);
  if (base === undefined) baseTypes.set(type, (base = baseType(type)));
  return base;
}

/**
 * Turns an event value into the JSON value a column of this type parses. `undefined` leaves
 * the key out of the row, so the column takes its default (NULL for a Nullable column).
 */
export function encode(value: unknown, type: string): unknown {
  if (value === undefined || value === null) return undefined;
  const base = cachedBaseType(type);
  if (base === 'String' || base.startsWith('FixedString') || base.startsWith('Enum')) {
    return typeof value === 'string' ? value : JSON.stringify(value);
  }
  if (/^U?Int\d+$|^Float\d+$|^Decimal/.test(base)) {
    if (typeof value === 'boolean') return value ? 1 : 0;
    return typeof value === 'object' ? JSON.stringify(value) : value;
  }
  if (base === 'DateTime' || base.startsWith('DateTime(')) return typeof value === 'number' ? Math.floor(value / 1000) : value;
  if (base === 'Date') return typeof value === 'number' ? new Date(value).toISOString().slice(0, 10) : value;
  return value;
}

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
  private readonly target: { database: string; table: string };
  private client: ClickHouseClient | undefined;
  private columnTypes: string[] = [];

  constructor(
    private readonly config: ClickHouseSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
  ) {
    this.mapping = columnMapping(config.columns);
    this.target = tableParts(config.table, config.database);
    const url = new URL(config.url);
    this.where = { url: `${url.protocol}//${url.host}`, database: this.target.database, user: config.user, table: `${this.target.database}.${this.target.table}` };
  }

  async open(): Promise<void> {
    if (this.client) return;
    const client = createClient({
      url: this.config.url,
      username: this.config.user,
      password: this.config.password,
      request_timeout: this.config.requestTimeoutMs,
      application: `beacon-sink-${this.context.name}`,
      log: { level: ClickHouseLogLevel.OFF },
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

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const client = this.client;
    if (!client) throw new SinkError('reconnect', 'clickhouse sink is not connected', { errorType: 'not_open' });
    let pending = batch.map((event, index) => ({ index, row: this.row(event) }));
    const rejected: RejectedEvent[] = [];
    let errorType = 'ch_data';
    while (pending.length > 0) {
      try {
        await this.insert(client, pending.map((p) => p.row));
        break;
      } catch (err) {
        // A lost connection is `reconnect`: the dispatcher calls close() and open(), which makes a new client.
        const failure = classifyClickHouseError(err, this.where);
        if (failure.kind !== 'reject') throw failure;
        const row = pending.length === 1 ? 1 : badRow(err);
        // No row named (or too many): the dispatcher bisects the batch to find the bad events.
        if (row === undefined || row > pending.length || rejected.length >= MAX_NAMED_ROWS) throw failure;
        rejected.push({ index: pending[row - 1]!.index, reason: rowReason(err) });
        errorType = failure.errorType;
        pending = pending.filter((_, i) => i !== row - 1);
      }
    }
    if (rejected.length > 0) {
      throw new SinkError('reject', `clickhouse refused ${rejected.length} of ${batch.length} row(s) of the batch: ${rejected[0]!.reason}`, { errorType, rejected });
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    // Every deliver waits for its INSERT, so nothing is buffered here.
    if (client) await client.close().catch(() => {});
  }

  private row(event: TrackedEvent): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    this.mapping.sources.forEach((source, i) => {
      const value = encode(valueAt(event, source), this.columnTypes[i]!);
      if (value !== undefined) row[this.mapping.columns[i]!] = value;
    });
    return row;
  }

  private async insert(client: ClickHouseClient, rows: Record<string, unknown>[]): Promise<void> {
    await client.insert({
      table: `${quoteIdent(this.target.database)}.${quoteIdent(this.target.table)}`,
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
    const tables = await read<{ engine: string; sorting_key: string }>(`SELECT engine, sorting_key FROM system.tables WHERE database = ${db} AND name = ${tbl}`);
    if (tables.length === 0) {
      const dbs = await read<{ name: string }>(`SELECT name FROM system.databases WHERE name = ${db}`);
      if (dbs.length === 0) {
        throw new SinkError('fatal', `${at}: database ${this.target.database} does not exist: check "database" (or the table's prefix), create it, or set createTable: true`, { errorType: 'no_database' });
      }
      throw new SinkError('fatal', `${at}: table ${this.where.table} does not exist: create it (the DDL is in docs/sinks.md) or set createTable: true`, { errorType: 'no_table' });
    }
    const { engine, sorting_key: sortingKey } = tables[0]!;
    if (!/ReplacingMergeTree$/.test(engine) || sortingKey.replaceAll('`', '').trim() !== this.mapping.idColumn) {
      this.context.logger.warn({ sink: this.context.name, engine, sortingKey }, `clickhouse table ${this.where.table} is not a ReplacingMergeTree ordered by ${this.mapping.idColumn}: redelivered events will stay as duplicate rows`);
    }
    const columns = await read<{ name: string; type: string }>(`SELECT name, type FROM system.columns WHERE database = ${db} AND table = ${tbl}`);
    const types = new Map(columns.map((c) => [c.name, c.type]));
    const missing = this.mapping.columns.filter((c) => !types.has(c));
    if (missing.length > 0) {
      throw new SinkError('fatal', `${at}: table ${this.where.table} has no column ${missing.join(', ')}: add it, or change the sink's "columns" mapping`, { errorType: 'no_column' });
    }
    return this.mapping.columns.map((c) => types.get(c)!);
  }
}
