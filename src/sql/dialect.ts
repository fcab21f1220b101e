import type { ColumnMapping } from '../sinks/sqlColumns.js';

/**
 * What one SQL database's sink and store say the same way: how a name is quoted, the table
 * `createTable` makes, how an event value is written into a column, how a statement carries
 * values, and the expressions the store's queries need. One module per database implements
 * it (postgres.ts, mysql.ts, clickhouse.ts); the sink (src/sinks/<db>/) and the store reader
 * (src/store/sql/<db>/) both use that module, so the two never quote or encode differently.
 *
 * `Table` is how a table is named: `table` or `schema.table` as the config writes it
 * (PostgreSQL, MySQL), or a database and a table (ClickHouse, whose `database` option
 * supplies the part the name leaves out).
 */
export interface SqlDialect<Table = string> {
  readonly name: 'postgres' | 'mysql' | 'clickhouse';
  quoteIdent(name: string): string;
  quoteTable(table: Table): string;
  /** The CREATE TABLE statement the sink's `createTable` runs (and docs/sinks.md shows for the default mapping). */
  createTableSql(table: Table, mapping: ColumnMapping): string;
  /** An event value as what a column of this type (as the sink read it from the table) takes. */
  encode(value: unknown, columnType: string): unknown;
  /** Fresh values of one statement, written the way this database takes them. */
  params(): SqlParams;
  /** The store's expressions over one table whose mapped columns have these types. */
  queryDialect(
    table: Table,
    types: ReadonlyMap<string, string>,
    fields: StoreFields,
    replacing?: boolean,
  ): QueryDialect;
}

/**
 * The SQL dialects whose sinks write through a transaction and an idempotent multi-row
 * INSERT (batchInsert.ts); ClickHouse has neither.
 */
export interface TransactionalDialect extends SqlDialect {
  readonly name: 'postgres' | 'mysql';
  /** The statement that starts a transaction. */
  readonly begin: string;
  /**
   * Whether a failed statement aborts the whole transaction (PostgreSQL), so each row of the
   * row-by-row fallback runs under its own savepoint; in InnoDB a failed statement rolls back
   * only itself.
   */
  readonly failedStatementAbortsTransaction: boolean;
  /** Most rows one INSERT of this mapping may carry. */
  rowsPerStatement(mapping: ColumnMapping): number;
  /**
   * One multi-row INSERT of `rows` (encoded values in the mapping's column order) that skips
   * the ids already in the table, so a batch delivered again writes nothing twice.
   */
  insert(
    table: string,
    mapping: ColumnMapping,
    rows: readonly (readonly unknown[])[],
  ): { sql: string; values: unknown[] };
}

/** The columns of the store's table that its queries name outside the mapping's event fields. */
export interface StoreFields {
  readonly props: string;
  readonly id: string;
}

/** A value a statement carries: epoch ms and counts are numbers, everything else text. */
export type SqlValue = string | number | Date;

/**
 * The values of one statement. `ref` returns how the statement text refers to a value: a
 * placeholder (`$1`, `?`) whose value travels apart from the text, or, where the server
 * takes no parameters (ClickHouse 18.16), an escaped literal. Each call stands for one use
 * in the text, in the order the text is written (`?` placeholders are positional).
 */
export interface SqlParams {
  ref(value: SqlValue): string;
  readonly values: SqlValue[];
}

/**
 * What differs between the SQL stores when the same five queries are written down: how a
 * value is passed, how the stored time becomes epoch milliseconds, how one prop is read out
 * of the JSON column as text, and how rows written twice are counted once. The statements
 * themselves are built once, in src/store/sql/storeQueries.ts.
 */
export interface QueryDialect {
  /** The table, quoted. */
  readonly table: string;
  /** What counting queries read FROM: the table, or a view of it with each id once (ClickHouse's FINAL). */
  readonly countFrom: string;
  quote(column: string): string;
  params(): SqlParams;
  /** `column` (a time column of the mapping, as stored) as epoch milliseconds, an integer. */
  timeMs(column: string): string;
  /** `ms` as a value comparable with time column `column` as stored (so an index on it serves the range). */
  timeValue(p: SqlParams, column: string, ms: number): string;
  /** `ms` (an integer expression) rounded down to a multiple of the bucket; `bucket()` gives one use of its value. */
  floorTo(ms: string, bucket: () => string): string;
  /** `props.<key>` as text; NULL when absent or JSON null. */
  propText(p: SqlParams, key: string): string;
  /** A text expression as compared and grouped byte for byte (MySQL's default collations fold case). */
  exact(expr: string): string;
  /** Counts events in a group: rows, or distinct ids where the table may hold an id twice. */
  readonly countEvents: string;
  /** Clause between ORDER BY and LIMIT that keeps one row per id where the table may hold an id twice. */
  readonly onePerId: string;
}
