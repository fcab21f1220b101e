import type { ColumnMapping } from '../sinks/sqlColumns.js';
import { quoteIdent, quoteTable } from './mysql.js';

/**
 * `LOAD DATA LOCAL INFILE` for the mysql sink's fast path: the statement and its data, in
 * LOAD DATA's default text format (fields separated by tabs, rows by newlines, backslash
 * escapes, `\N` for NULL), encoded chunk by chunk while the server loads the previous one.
 *
 * The file name in the statement is never opened: mysql2 asks the query's
 * `infileStreamFactory` for the data when the server requests the file.
 */

/** The statement; `CHARACTER SET utf8mb4` so the text is read as the connection sends it. */
export function loadDataSql(table: string, mapping: ColumnMapping): string {
  return `LOAD DATA LOCAL INFILE 'beacon-batch' INTO TABLE ${quoteTable(table)} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${mapping.columns.map(quoteIdent).join(',')})`;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };
const SPECIAL = /[\\\t\n\r\0]/;

/** `YYYY-MM-DD HH:MM:SS.mmm`, UTC: what mysql2 sends for a Date with `timezone: 'Z'` (the session is UTC). */
function datetime(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

/**
 * One field: a value as the sink's `encode` returns it (a string, a number, a boolean, a
 * Date, or null), written as mysql2 would write it into an INSERT (a boolean as 1 or 0).
 */
export function loadDataField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  else if (typeof value === 'boolean') return value ? '1' : '0';
  else if (value instanceof Date) return datetime(value);
  else text = JSON.stringify(value);
  return SPECIAL.test(text) ? text.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c]!) : text;
}

/** Characters per chunk: one packet each, large enough that a write per chunk costs nothing, small enough to overlap. */
const CHUNK_CHARS = 64 * 1024;

/**
 * The data of a whole batch, straight from the events: each column gets a writer chosen once
 * from its type (not per value), and values go into the chunk text without a row array or a
 * Date per value. Writes exactly what `loadDataField(encode(value, type))` writes (the
 * sink's tests and the bench's digest check it); measured in docs/performance.md.
 *
 * - time columns (datetime, timestamp, date) with epoch ms: the `YYYY-MM-DD HH:MM:SS` part is
 *   formatted once per second (a batch's events mostly share it), the milliseconds appended;
 * - JSON columns: `JSON.stringify` never leaves a raw tab, newline, carriage return or NUL in
 *   its output (it writes them as `\t`, `\u0000`...), so only backslashes need doubling.
 */
export function* loadDataBatch<T>(
  items: readonly T[],
  sources: readonly ((item: T) => unknown)[],
  columnTypes: readonly string[],
  encode: (value: unknown, columnType: string) => unknown,
): Generator<Buffer> {
  // Pulled chunk by chunk, so the server loads one chunk on one core while the next is encoded.
  const writers = columnTypes.map((type) => fieldWriter(type, encode));
  const n = writers.length;
  let out = '';
  for (const item of items) {
    for (let i = 0; i < n; i++) {
      const field = writers[i]!(sources[i]!(item));
      out += i === 0 ? field : `\t${field}`;
    }
    out += '\n';
    if (out.length >= CHUNK_CHARS) {
      yield Buffer.from(out, 'utf8');
      out = '';
    }
  }
  if (out.length > 0) yield Buffer.from(out, 'utf8');
}

function fieldWriter(
  type: string,
  encode: (value: unknown, columnType: string) => unknown,
): (value: unknown) => string {
  const generic = (value: unknown) => loadDataField(encode(value, type));
  if (type === 'datetime' || type === 'timestamp' || type === 'date') {
    let second = NaN;
    let prefix = '';
    return (value) => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_MS) return generic(value);
      const s = Math.floor(value / 1000);
      if (s !== second) {
        second = s;
        const iso = new Date(s * 1000).toISOString();
        prefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}.`;
      }
      const ms = value - s * 1000;
      return prefix + (ms < 10 ? `00${ms}` : ms < 100 ? `0${ms}` : String(ms));
    };
  }
  if (type === 'json') {
    return (value) => {
      if (value === undefined || value === null) return '\\N';
      const text = JSON.stringify(value);
      return text.includes('\\') ? text.replaceAll('\\', '\\\\') : text;
    };
  }
  return generic;
}

/** 9999-12-31T23:59:59.999Z: past it toISOString writes a six-digit year, which the generic path keeps. */
const MAX_MS = 253_402_300_799_999;
