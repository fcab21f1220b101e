import { connectionLostCode, connectionLostCodes } from '../networkErrors.js';
import { SinkError, type SinkFailureKind } from '../sink.js';

/**
 * How a ClickHouse failure maps to a failure kind, with a message that says what to fix.
 * ClickHouse 18.16 answers errors as `Code: <n>, e.displayText() = DB::Exception: ...` with
 * HTTP 500 for most of them (bad data included), so the sink reads the code, not the status:
 *
 * | failure                                                                  | kind      |
 * |--------------------------------------------------------------------------|-----------|
 * | connection refused, reset, hang-up; DNS failure                          | reconnect |
 * | request timeout; 202 too many queries, 241 memory, 242 read-only, 243 disk, 252 too many parts, 159/209/210 server-side timeouts and network; any other code; a 5xx body that is not a ClickHouse error (a proxy) | retry |
 * | 6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 349 (a value that cannot be parsed or converted), 395 throwIf, 469 CHECK constraint (19.14+) | reject |
 * | 60 unknown table, 81 unknown database, 16 no such column, 192/193/516 authentication, 164/497 not allowed (readonly, grants), 62 syntax, 47 unknown identifier | fatal |
 */
export interface ClickHouseWhere {
  url: string;
  database: string;
  user: string;
  table: string;
}

/** Without ETIMEDOUT: this sink retries a timed-out request on the same client (`ch_unknown` below). */
const NETWORK_CODES = connectionLostCodes(['UND_ERR_SOCKET'], ['ETIMEDOUT']);

/** Codes of errors one row causes: the value cannot be parsed or converted to its column's type. */
const DATA_CODES = new Set([6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 349, 395, 469]);

/** The server's error code, parsed from its message (the client's parser expects newer servers' layout). */
export function clickhouseCode(err: unknown): number | undefined {
  const message = (err as { message?: unknown } | undefined)?.message;
  const match = typeof message === 'string' ? /^Code: (\d+)[,.]/.exec(message) : null;
  return match ? Number(match[1]) : undefined;
}

export function isDataError(err: unknown): boolean {
  const code = clickhouseCode(err);
  return code !== undefined && DATA_CODES.has(code);
}

/** The 1-based row of the request body the server pointed at (`(at row N)`), when it did. */
export function badRow(err: unknown): number | undefined {
  const message = (err as { message?: unknown } | undefined)?.message;
  const match = typeof message === 'string' ? /\(at row (\d+)\)/.exec(message) : null;
  return match ? Number(match[1]) : undefined;
}

/** The server's own text: `DB::Exception: <this>, e.what() = ...`, without the row pointer. */
export function serverText(err: unknown): string {
  const message = String((err as { message?: unknown } | undefined)?.message ?? err).trim();
  const text = /DB::Exception: ([\s\S]*?)(?:, e\.what\(\) = [\w:]+)?\s*$/.exec(message)?.[1] ?? message;
  return text
    .replace(/:?\s*\(at row \d+\)\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The dead-letter reason for a refused row: the server's message and code. */
export function rowReason(err: unknown): string {
  return `clickhouse refused the row: ${serverText(err)} (Code ${clickhouseCode(err) ?? 'unknown'})`;
}

export function classifyClickHouseError(err: unknown, where: ClickHouseWhere): SinkError {
  if (err instanceof SinkError) return err;
  const e = (err ?? {}) as { code?: unknown; message?: string };
  const at = `clickhouse ${where.url}`;
  const make = (kind: SinkFailureKind, message: string, errorType: string) =>
    new SinkError(kind, message, { errorType, cause: err });
  const code = clickhouseCode(err);

  if (code === undefined) {
    const detail = e.message ?? String(err);
    const sys = connectionLostCode(err, NETWORK_CODES);
    if (sys) return make('reconnect', `${at}: ${detail}`, sys.toLowerCase());
    if (/socket hang up|ECONNRESET|ECONNREFUSED|other side closed/i.test(detail))
      return make('reconnect', `${at}: ${detail}`, 'connection_lost');
    if (/timeout/i.test(detail)) return make('retry', `${at}: ${detail}`, 'timeout');
    return make('retry', `${at}: ${detail}`, 'ch_unknown');
  }
  const text = serverText(err);
  const errorType = `ch_${code}`;
  const said = `${at}: ${text} (Code ${code})`;
  if (DATA_CODES.has(code)) return make('reject', rowReason(err), errorType);
  switch (code) {
    case 60:
      return make(
        'fatal',
        `${said}: create table ${where.table} (the DDL is in docs/sinks.md) or set createTable: true`,
        errorType,
      );
    case 81:
      return make(
        'fatal',
        `${said}: check "database" (or the table's database prefix), or set createTable: true to create it`,
        errorType,
      );
    case 16:
      return make(
        'fatal',
        `${said}: add the column to ${where.table} or change the sink's "columns" mapping`,
        errorType,
      );
    case 192:
    case 193:
    case 516:
      return make(
        'fatal',
        `${at} refused user "${where.user}": ${text} (Code ${code}): check "user" and "password" (users.xml or CREATE USER on the server)`,
        errorType,
      );
    case 164:
    case 497:
      return make(
        'fatal',
        `${said}: user "${where.user}" may not write here: give it a profile without readonly and INSERT (and CREATE with createTable) on ${where.table}`,
        errorType,
      );
    case 62:
    case 47:
      return make('fatal', `${said}`, errorType);
  }
  return make('retry', said, errorType);
}
