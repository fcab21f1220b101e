import { createColumnLines, type ColumnMapping, type SourceKind } from '../sinks/sqlColumns.js';
import { doubledQuoting } from './quoting.js';
import type { QueryDialect, SqlParams, SqlValue, StoreFields, TransactionalDialect } from './dialect.js';

/** What a mysql sink (and the store over its table) connects to when its config leaves it out. */
export const SERVER_DEFAULTS = { port: 3306, database: '', user: 'root' } as const;

/** Rows per INSERT statement: keeps a statement well under max_allowed_packet (16 MiB on MariaDB). */
const ROWS_PER_STATEMENT = 1000;

/** Column types `createTable` uses for each kind of source (utf8mb4: 255 characters fit an InnoDB key). */
const CREATE_TYPES: Record<SourceKind, string> = {
  id: 'VARCHAR(255) NOT NULL PRIMARY KEY',
  text: 'VARCHAR(255)',
  longText: 'TEXT',
  time: 'DATETIME(3)',
  json: 'JSON',
};

export const { quoteIdent, quoteTable } = doubledQuoting('`');

/** The CREATE TABLE statement `createTable` runs (and docs/sinks.md shows for the default mapping). */
export function createTableSql(table: string, mapping: ColumnMapping): string {
  const lines = createColumnLines(
    mapping,
    quoteIdent,
    CREATE_TYPES,
    '`received_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)',
  );
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (\n  ${lines.join(',\n  ')}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;
}

/** Turns an event value into what a column of this type takes (`json` also covers MariaDB's JSON alias). */
export function encode(value: unknown, columnType: string): unknown {
  if (value === undefined || value === null) return null;
  if (columnType === 'json') return JSON.stringify(value);
  if (typeof value === 'number' && (columnType === 'datetime' || columnType === 'timestamp' || columnType === 'date'))
    return new Date(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

/**
 * `INSERT ... VALUES ? ON DUPLICATE KEY UPDATE <id> = <id>`: mysql2 expands the one `?` into
 * the rows (its values are `[rows]`). Not `INSERT IGNORE`, which also turns data errors into
 * warnings and writes truncated or defaulted rows.
 */
export function insertSql(table: string, mapping: ColumnMapping): string {
  const id = quoteIdent(mapping.idColumn);
  return `INSERT INTO ${quoteTable(table)} (${mapping.columns.map(quoteIdent).join(',')}) VALUES ? ON DUPLICATE KEY UPDATE ${id} = ${id}`;
}

/** Parameters as `?`, one value per use (MySQL / MariaDB). */
export function positionalParams(): SqlParams {
  const values: SqlValue[] = [];
  return {
    values,
    ref(value) {
      values.push(value);
      return '?';
    },
  };
}

/** The store's expressions over a table whose columns have these types (information_schema DATA_TYPE). */
export function queryDialect(table: string, types: ReadonlyMap<string, string>, fields: StoreFields): QueryDialect {
  const isDatetime = (column: string) => types.get(column) === 'datetime' || types.get(column) === 'timestamp';
  const props = quoteIdent(fields.props);
  return {
    table: quoteTable(table),
    countFrom: quoteTable(table),
    quote: quoteIdent,
    params: positionalParams,
    // TIMESTAMPDIFF counts from a fixed DATETIME, so it works past 2038 where UNIX_TIMESTAMP stops.
    timeMs: (column) =>
      isDatetime(column)
        ? `(TIMESTAMPDIFF(MICROSECOND, DATE '1970-01-01', ${quoteIdent(column)}) DIV 1000)`
        : `CAST(${quoteIdent(column)} AS SIGNED)`,
    // mysql2 writes a Date as a UTC 'YYYY-MM-DD HH:MM:SS.mmm' literal (timezone 'Z'), which an index on the column serves.
    timeValue: (p, column, ms) => p.ref(isDatetime(column) ? new Date(ms) : ms),
    floorTo: (ms, bucket) => `((${ms}) DIV ${bucket()} * ${bucket()})`,
    propText: (p, key) => {
      const path = `$.${JSON.stringify(key)}`;
      return `(CASE WHEN JSON_TYPE(JSON_EXTRACT(${props}, ${p.ref(path)})) = 'NULL' THEN NULL ELSE JSON_UNQUOTE(JSON_EXTRACT(${props}, ${p.ref(path)})) END)`;
    },
    exact: (expr) => `CONVERT(${expr} USING utf8mb4) COLLATE utf8mb4_bin`,
    countEvents: 'COUNT(*)',
    onePerId: '',
  };
}

export const mysql: TransactionalDialect = {
  name: 'mysql',
  quoteIdent,
  quoteTable,
  createTableSql,
  encode,
  params: positionalParams,
  queryDialect,
  begin: 'START TRANSACTION',
  failedStatementAbortsTransaction: false,
  rowsPerStatement: () => ROWS_PER_STATEMENT,
  insert: (table, mapping, rows) => ({ sql: insertSql(table, mapping), values: [rows] }),
};
