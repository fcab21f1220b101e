/**
 * The reference side of the database scenarios loads a file with the database's own client.
 * The file must hold the rows the sink writes, so it is built from the same events with the
 * same column mapping (src/sinks/sqlColumns.ts) and the sink's own value encoder, for the
 * column types the table reports. Each scenario then checks that the two tables hold equal
 * rows (a digest of every mapped column), so a difference here fails the run instead of
 * skewing it.
 *
 * Formats:
 * - tab-separated text with backslash escapes and `\N` for NULL: what PostgreSQL's COPY
 *   (`FORMAT text`) and MariaDB's `LOAD DATA` (its default FIELDS/LINES options) both read;
 * - JSONEachRow: one JSON object per line, a NULL left out so the column takes its default,
 *   as the clickhouse sink sends it.
 */
import type { TrackedEvent } from '../src/event/trackedEvent.js';
import { valueAt, type ColumnMapping } from '../src/sinks/sqlColumns.js';

/** Turns one event value into what the sink sends for a column of `columnType`. */
export type ValueEncoder = (value: unknown, columnType: string) => unknown;

/** Each event's values in mapping order, encoded as the sink encodes them (`null`/`undefined` = NULL). */
export function rowValues(
  events: readonly TrackedEvent[],
  mapping: ColumnMapping,
  columnTypes: readonly string[],
  encode: ValueEncoder,
): unknown[][] {
  return events.map((event) => mapping.sources.map((source, i) => encode(valueAt(event, source), columnTypes[i]!)));
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/**
 * One field of the text format. A `Date` is written as the drivers send it with a UTC session:
 * `YYYY-MM-DD HH:MM:SS.mmm` (mysql2 with `timezone: 'Z'`); PostgreSQL's sink already sends an
 * ISO string.
 */
export function textField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint') text = String(value);
  else if (value instanceof Date) text = value.toISOString().replace('T', ' ').replace('Z', '');
  // Booleans and objects never leave the SQL sinks' encoders for the default mapping; a
  // mapping that yields them would need the driver's own rules, so refuse rather than guess.
  else throw new Error(`the bench's text format has no rule for a ${typeof value} value (${JSON.stringify(value)})`);
  return text.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c]!);
}

/** Rows as tab-separated text lines (COPY ... FORMAT text, LOAD DATA defaults). */
export function textRows(rows: readonly unknown[][]): string {
  let out = '';
  for (const row of rows) out += `${row.map(textField).join('\t')}\n`;
  return out;
}

/** Rows as JSONEachRow lines, keys in column order, NULLs left out (the clickhouse sink's rows). */
export function jsonEachRow(rows: readonly unknown[][], mapping: ColumnMapping): string {
  let out = '';
  for (const row of rows) {
    const object: Record<string, unknown> = {};
    row.forEach((value, i) => {
      if (value !== undefined && value !== null) object[mapping.columns[i]!] = value;
    });
    out += `${JSON.stringify(object)}\n`;
  }
  return out;
}
