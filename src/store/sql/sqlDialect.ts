/**
 * What differs between the SQL stores when the same five queries are written down: how a
 * value is passed, how the stored time becomes epoch milliseconds, how one prop is read out
 * of the JSON column as text, and how rows written twice are counted once. The statements
 * themselves are built once, in storeQueries.ts.
 */

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

export interface SqlDialect {
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
      let at = values.findIndex((v) => v === value || (v instanceof Date && value instanceof Date && v.getTime() === value.getTime()));
      if (at < 0) at = values.push(value) - 1;
      return `$${at + 1}::${cast}`;
    },
  };
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
