import { createColumnLines, type ColumnMapping, type SourceKind } from '../sinks/sqlColumns.js';
import { doubledQuoting } from './quoting.js';
import type { QueryDialect, SqlParams, SqlValue, StoreFields, TransactionalDialect } from './dialect.js';

/** What a postgres sink (and the store over its table) connects to when its config leaves it out. */
export const SERVER_DEFAULTS = { port: 5432, database: 'postgres', user: 'postgres' } as const;

/** PostgreSQL takes at most 65535 parameters in one statement. */
const MAX_PARAMS = 65_535;

/** Column types `createTable` uses for each kind of source. */
const CREATE_TYPES: Record<SourceKind, string> = {
  id: 'text PRIMARY KEY',
  text: 'text',
  longText: 'text',
  time: 'timestamptz',
  json: 'jsonb',
};

export const { quoteIdent, quoteTable } = doubledQuoting('"');

/** The CREATE TABLE statement `createTable` runs (and docs/sinks.md shows for the default mapping). */
export function createTableSql(table: string, mapping: ColumnMapping): string {
  const lines = createColumnLines(
    mapping,
    quoteIdent,
    CREATE_TYPES,
    `"received_at" timestamptz NOT NULL DEFAULT now()`,
  );
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (\n  ${lines.join(',\n  ')}\n)`;
}

/** Turns an event value into the parameter a column of this type takes. */
export function encode(value: unknown, columnType: string): unknown {
  if (value === undefined || value === null) return null;
  if (columnType === 'json' || columnType === 'jsonb') return JSON.stringify(value);
  if (typeof value === 'number' && (columnType.startsWith('timestamp') || columnType === 'date'))
    return new Date(value).toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

/** `COPY <table> (<columns>) FROM STDIN` in the text format (the sink's fast path, copyFrom.ts). */
export function copySql(table: string, mapping: ColumnMapping): string {
  return `COPY ${quoteTable(table)} (${mapping.columns.map(quoteIdent).join(',')}) FROM STDIN`;
}

/** `INSERT ... VALUES ($1,...),(...) ON CONFLICT (<id>) DO NOTHING` for `rowCount` rows. */
export function insertSql(table: string, mapping: ColumnMapping, rowCount: number): string {
  const n = mapping.columns.length;
  const values = Array.from(
    { length: rowCount },
    (_, r) => `(${Array.from({ length: n }, (_, c) => `$${r * n + c + 1}`).join(',')})`,
  );
  return `INSERT INTO ${quoteTable(table)} (${mapping.columns.map(quoteIdent).join(',')}) VALUES ${values.join(',')} ON CONFLICT (${quoteIdent(mapping.idColumn)}) DO NOTHING`;
}

/**
 * Parameters as `$1::int8, $2::text, ...` (PostgreSQL). The cast fixes each parameter's type
 * (an untyped one next to `->>` or `/` would be ambiguous); a value used twice keeps its
 * number, so an expression in GROUP BY is the same as in SELECT.
 */
export function numberedParams(): SqlParams {
  const values: SqlValue[] = [];
  return {
    values,
    ref(value) {
      const cast = typeof value === 'number' ? 'int8' : value instanceof Date ? 'timestamptz' : 'text';
      let at = values.findIndex(
        (v) => v === value || (v instanceof Date && value instanceof Date && v.getTime() === value.getTime()),
      );
      if (at < 0) at = values.push(value) - 1;
      return `$${at + 1}::${cast}`;
    },
  };
}

/** The store's expressions over a table whose columns have these types (`format_type` names). */
export function queryDialect(table: string, types: ReadonlyMap<string, string>, fields: StoreFields): QueryDialect {
  const isTimestamp = (column: string) => types.get(column)!.startsWith('timestamp');
  const props = quoteIdent(fields.props);
  const propsJson = /^json/.test(types.get(fields.props)!) ? props : `${props}::jsonb`;
  return {
    table: quoteTable(table),
    countFrom: quoteTable(table),
    quote: quoteIdent,
    params: numberedParams,
    timeMs: (column) =>
      isTimestamp(column)
        ? `floor(extract(epoch from ${quoteIdent(column)}) * 1000)::int8`
        : `${quoteIdent(column)}::int8`,
    timeValue: (p, column, ms) => {
      if (!isTimestamp(column)) return p.ref(ms);
      // Epoch plus an interval is exact to the microsecond, unlike to_timestamp's float seconds.
      return `(${types.get(column) === 'timestamp with time zone' ? 'timestamptz' : 'timestamp'} 'epoch' + ${p.ref(ms)} * interval '1 millisecond')`;
    },
    floorTo: (ms, bucket) => `((${ms}) / ${bucket()} * ${bucket()})`,
    propText: (p, key) => `(${propsJson} ->> ${p.ref(key)})`,
    exact: (expr) => expr,
    countEvents: 'count(*)',
    onePerId: '',
  };
}

export const postgres: TransactionalDialect = {
  name: 'postgres',
  quoteIdent,
  quoteTable,
  createTableSql,
  encode,
  params: numberedParams,
  queryDialect,
  begin: 'BEGIN',
  failedStatementAbortsTransaction: true,
  rowsPerStatement: (mapping) => Math.floor(MAX_PARAMS / mapping.columns.length),
  insert: (table, mapping, rows) => ({ sql: insertSql(table, mapping, rows.length), values: rows.flat() }),
};
