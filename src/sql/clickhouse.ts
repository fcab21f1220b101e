import { alwaysPresent, sourceKind, type ColumnMapping, type SourceKind } from '../sinks/sqlColumns.js';
import type { QueryDialect, SqlDialect, SqlParams, SqlValue, StoreFields } from './dialect.js';

/** A ClickHouse table: the database it lives in and its name. */
export interface TableTarget {
  readonly database: string;
  readonly table: string;
}

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

/** A DateTime column (seconds), possibly Nullable or with a time zone. */
export const DATETIME = /^(Nullable\()?DateTime(\('[^']*'\))?\)?$/;

export function quoteIdent(name: string): string {
  return `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;
}

export function quoteTable(target: TableTarget): string {
  return `${quoteIdent(target.database)}.${quoteIdent(target.table)}`;
}

/** `database.table`, split: the table's own prefix wins over the `database` option. */
export function tableParts(table: string, database: string): TableTarget {
  const dot = table.indexOf('.');
  return dot < 0 ? { database, table } : { database: table.slice(0, dot), table: table.slice(dot + 1) };
}

/** A string literal, escaped. */
export function literal(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * The CREATE TABLE statement `createTable` runs (and docs/sinks.md shows for the default
 * mapping): a ReplacingMergeTree ordered by the id column, so rows written twice collapse
 * into one at merge time. The partition key must be a function of the row's own content
 * (never of the insert time), or a redelivery could land in another partition and never meet
 * its twin: it is the month of `ts` when `ts` is mapped, else there is one partition.
 */
export function createTableSql(table: TableTarget, mapping: ColumnMapping): string {
  const lines = mapping.columns.map((column, i) => {
    const source = mapping.sources[i]!;
    const type = CREATE_TYPES[sourceKind(source)];
    return `${quoteIdent(column)} ${alwaysPresent(source) ? type : `Nullable(${type})`}`;
  });
  if (!mapping.columns.includes('received_at')) lines.push('`received_at` DateTime DEFAULT now()');
  const tsColumn = mapping.columns[mapping.sources.indexOf('ts')];
  const partition = tsColumn ? `\nPARTITION BY toYYYYMM(toDate(intDiv(${quoteIdent(tsColumn)}, 1000)))` : '';
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (\n  ${lines.join(',\n  ')}\n) ENGINE = ReplacingMergeTree()${partition}\nORDER BY (${quoteIdent(mapping.idColumn)})`;
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
  if (base === 'DateTime' || base.startsWith('DateTime('))
    return typeof value === 'number' ? Math.floor(value / 1000) : value;
  if (base === 'Date') return typeof value === 'number' ? new Date(value).toISOString().slice(0, 10) : value;
  return value;
}

/** Values as literals in the statement: strings escaped, numbers only as safe integers. */
export function literalParams(): SqlParams {
  const values: SqlValue[] = [];
  return {
    values,
    ref(value) {
      values.push(value);
      if (typeof value === 'number') {
        if (!Number.isSafeInteger(value)) throw new Error(`clickhouse store: ${value} is not a safe integer`);
        return String(value);
      }
      if (typeof value !== 'string')
        throw new Error('clickhouse store: only text and integers are written into statements');
      return `'${value.replace(/[\\']/g, (c) => `\\${c}`).replace(/\0/g, '\\0')}'`;
    },
  };
}

/**
 * The store's expressions over a table whose columns have these types (system.columns);
 * `replacing`: the table is a ReplacingMergeTree, so FINAL collapses an id written twice.
 */
export function queryDialect(
  target: TableTarget,
  types: ReadonlyMap<string, string>,
  fields: StoreFields,
  replacing = false,
): QueryDialect {
  const isDateTime = (column: string) => DATETIME.test(types.get(column)!);
  const props = quoteIdent(fields.props);
  const id = quoteIdent(fields.id);
  const table = quoteTable(target);
  return {
    table,
    countFrom: replacing ? `${table} FINAL` : table,
    quote: quoteIdent,
    params: literalParams,
    timeMs: (column) => (isDateTime(column) ? `(toUInt64(${quoteIdent(column)}) * 1000)` : quoteIdent(column)),
    // A DateTime holds whole seconds: second s is at or past `ms` exactly when s >= ceil(ms / 1000), for >= and < alike.
    timeValue: (p, column, ms) => (isDateTime(column) ? `toDateTime(${p.ref(Math.ceil(ms / 1000))})` : p.ref(ms)),
    floorTo: (ms, bucket) => `(intDiv(${ms}, ${bucket()}) * ${bucket()})`,
    propText: (p, key) => {
      // visitParam* take the key as it is written inside the JSON text's quotes.
      const k = () => p.ref(JSON.stringify(key).slice(1, -1));
      return `if(visitParamHas(${props}, ${k()}), if(startsWith(visitParamExtractRaw(${props}, ${k()}), '"'), visitParamExtractString(${props}, ${k()}), nullIf(visitParamExtractRaw(${props}, ${k()}), 'null')), NULL)`;
    },
    exact: (expr) => expr,
    countEvents: replacing ? 'count()' : `uniqExact(${id})`,
    onePerId: ` LIMIT 1 BY ${id}`,
  };
}

export const clickhouse: SqlDialect<TableTarget> = {
  name: 'clickhouse',
  quoteIdent,
  quoteTable,
  createTableSql,
  encode,
  params: literalParams,
  queryDialect,
};
