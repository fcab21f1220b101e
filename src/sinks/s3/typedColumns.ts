/**
 * Typed Parquet columns from an event type's JSON Schema (docs/lake.md#typed-columns).
 *
 * Promises:
 * - A column comes from a top-level property of the type's schema whose `type` is one JSON
 *   type (maybe with "null"): string -> VARCHAR, string with `format: date-time` ->
 *   TIMESTAMPTZ, integer -> BIGINT, number -> DOUBLE, boolean -> BOOLEAN. Anything else
 *   (objects, arrays, unions, `$ref`s, `enum` without `type`) gets no column.
 * - The column is named `props_<property>`; only names DuckDB, Spark and Trino take without
 *   quoting (`[A-Za-z_][A-Za-z0-9_]*`, at most 64 characters) get one, and two names equal
 *   but for case get none (SQL engines fold case, so the columns would clash).
 * - The columns depend only on the schemas and on the set of event types in the object, and
 *   come sorted by name: the same events give the same columns, hence the same bytes.
 * - A value that does not fit its column (a string where the schema says integer, an
 *   integer past BIGINT, a date-time DuckDB cannot read) is NULL in the column. `props`
 *   keeps every property as it was, typed or not.
 */

export type ColumnType = 'VARCHAR' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMPTZ';

export interface TypedColumn {
  /** The property in `props`. */
  prop: string;
  /** The Parquet column: `props_<prop>`. */
  name: string;
  type: ColumnType;
}

/** One event type's typed columns (none when it has no schema). */
export type ColumnsOf = (eventType: string) => readonly TypedColumn[];

/** A column of one object, and the event types (of those in the object) whose schema defines it. */
export interface ObjectColumn extends TypedColumn {
  types: readonly string[];
}

export const COLUMN_PREFIX = 'props_';
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The typed columns of one JSON Schema (its top-level `properties`), sorted by name. */
export function columnsOfSchema(schema: unknown): TypedColumn[] {
  if (!isObject(schema) || !isObject(schema.properties)) return [];
  const columns: TypedColumn[] = [];
  for (const [prop, property] of Object.entries(schema.properties)) {
    if (!NAME.test(prop)) continue;
    const type = columnType(property);
    if (type) columns.push({ prop, name: `${COLUMN_PREFIX}${prop}`, type });
  }
  return withoutCaseClashes(columns);
}

/**
 * The typed columns of an object holding events of `types`: the union of their columns. A
 * name two of the types give different column types gets no column (it stays in `props`).
 */
export function objectColumns(types: Iterable<string>, columnsOf: ColumnsOf): ObjectColumn[] {
  const byName = new Map<string, { column: TypedColumn; types: string[]; clash: boolean }>();
  for (const type of [...new Set(types)].sort()) {
    for (const column of columnsOf(type)) {
      const seen = byName.get(column.name);
      if (!seen) byName.set(column.name, { column, types: [type], clash: false });
      else {
        seen.types.push(type);
        if (seen.column.type !== column.type) seen.clash = true;
      }
    }
  }
  const kept = [...byName.values()].filter((c) => !c.clash);
  return withoutCaseClashes(kept.map((c) => ({ ...c.column, types: c.types }))) as ObjectColumn[];
}

/**
 * The SQL (DuckDB) that reads `column` from the JSON column `props`, NULL when the value
 * does not fit; `everyType` says whether every event of the object has the column's type.
 */
export function columnSql(column: ObjectColumn, everyType: boolean): string {
  const path = `'$."${column.prop}"'`;
  const kind = `json_type(props, ${path})`;
  const text = `json_extract_string(props, ${path})`;
  let value: string;
  switch (column.type) {
    case 'VARCHAR':
      value = `CASE WHEN ${kind} = 'VARCHAR' THEN ${text} END`;
      break;
    case 'TIMESTAMPTZ':
      value = `CASE WHEN ${kind} = 'VARCHAR' THEN TRY_CAST(${text} AS TIMESTAMPTZ) END`;
      break;
    case 'BOOLEAN':
      value = `CASE WHEN ${kind} = 'BOOLEAN' THEN ${text} = 'true' END`;
      break;
    case 'DOUBLE':
      value = `CASE WHEN ${kind} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN TRY_CAST(${text} AS DOUBLE) END`;
      break;
    case 'BIGINT':
      // JSON Schema's integer is any number without a fraction: 1e3 counts, 1.5 does not.
      value = `CASE WHEN ${kind} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST(${text} AS BIGINT) WHEN ${kind} = 'DOUBLE' AND TRY_CAST(${text} AS DOUBLE) = trunc(TRY_CAST(${text} AS DOUBLE)) THEN TRY_CAST(TRY_CAST(${text} AS DOUBLE) AS BIGINT) END`;
      break;
  }
  if (!everyType) {
    const list = column.types.map((t) => `'${t.replace(/'/g, "''")}'`).join(', ');
    value = `CASE WHEN type IN (${list}) THEN ${value} END`;
  }
  return `(${value})::${column.type} AS "${column.name}"`;
}

function columnType(property: unknown): ColumnType | undefined {
  if (!isObject(property)) return undefined;
  const declared = Array.isArray(property.type) ? property.type : [property.type];
  const types = declared.filter((t) => t !== 'null');
  if (types.length !== 1) return undefined;
  switch (types[0]) {
    case 'string':
      return property.format === 'date-time' ? 'TIMESTAMPTZ' : 'VARCHAR';
    case 'integer':
      return 'BIGINT';
    case 'number':
      return 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
    default:
      return undefined;
  }
}

/** Sorted by name, without names equal but for case (SQL engines fold case). */
function withoutCaseClashes<T extends TypedColumn>(columns: T[]): T[] {
  const count = new Map<string, number>();
  for (const c of columns) count.set(c.name.toLowerCase(), (count.get(c.name.toLowerCase()) ?? 0) + 1);
  return columns
    .filter((c) => count.get(c.name.toLowerCase()) === 1)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
