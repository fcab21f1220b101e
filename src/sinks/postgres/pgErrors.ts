import { connectionLostCode, connectionLostCodes } from '../networkErrors.js';
import { SinkError, type SinkFailureKind } from '../sink.js';
import type { SqlWhere } from '../sqlSinkFields.js';

/**
 * How a PostgreSQL failure maps to a failure kind (SQLSTATE codes, see the PostgreSQL
 * manual's appendix A), with a message that says what to fix:
 *
 * | failure                                                        | kind      |
 * |----------------------------------------------------------------|-----------|
 * | refused, reset, terminated; class 08; 57P01-57P03 (shutdown); 25006 (read-only: a standby after failover); query timeout | reconnect |
 * | 40001 serialization, 40P01 deadlock, 55P03 lock, 57014 cancelled; class 53 (disk full, out of memory, too many connections) | retry |
 * | class 22 (data: too long, out of range, bad JSON...), class 23 (not null, check, foreign key, unique other than the id) | reject |
 * | 42P01 undefined table, 42703 undefined column, 42P10 no unique key for ON CONFLICT, 3F000 no schema | fatal |
 * | class 28 (authentication), 3D000 (no database), 42501 (permission denied), other class 42 | fatal |
 * | anything else                                                  | retry     |
 */
const NETWORK_CODES = connectionLostCodes();
const RECONNECT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '25006']);
const RETRY_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014']);

interface PgErrorLike {
  code?: unknown;
  message?: string;
  detail?: string;
  column?: string;
}

export function sqlState(err: unknown): string | undefined {
  const code = (err as PgErrorLike | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True for the errors a single row causes (classes 22 and 23): the row goes to the dead letter. */
export function isDataError(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** The dead-letter reason for a refused row: PostgreSQL's own message and SQLSTATE. */
export function rowReason(err: unknown): string {
  const e = err as PgErrorLike;
  return `postgres refused the row: ${e.message ?? String(err)} (SQLSTATE ${sqlState(err) ?? 'unknown'})`;
}

export function classifyPgError(err: unknown, where: SqlWhere): SinkError {
  if (err instanceof SinkError) return err;
  const e = (err ?? {}) as PgErrorLike;
  const detail = e.message ?? String(err);
  const state = sqlState(err);
  const at = `postgres ${where.host}:${where.port}/${where.database}`;
  const make = (kind: SinkFailureKind, message: string, errorType: string) =>
    new SinkError(kind, message, { errorType, cause: err });

  if (state === undefined) {
    const code = connectionLostCode(err, NETWORK_CODES);
    if (code) return make('reconnect', `${at}: ${detail}`, code.toLowerCase());
    if (/terminated|timeout|not queryable|closed|ended|Connection/i.test(detail))
      return make('reconnect', `${at}: ${detail}`, /timeout/i.test(detail) ? 'timeout' : 'connection_lost');
    return make('retry', `${at}: ${detail}`, 'pg_unknown');
  }
  const errorType = `pg_${state.toLowerCase()}`;
  if (state.startsWith('08') || RECONNECT_SQLSTATES.has(state))
    return make('reconnect', `${at}: ${detail} (SQLSTATE ${state})`, errorType);
  if (RETRY_SQLSTATES.has(state) || state.startsWith('53'))
    return make('retry', `${at}: ${detail} (SQLSTATE ${state})`, errorType);
  if (state.startsWith('22') || state.startsWith('23')) return make('reject', rowReason(err), errorType);
  switch (state) {
    case '42P01':
      return make(
        'fatal',
        `${at}: ${detail}: create table ${where.table} (the DDL is in docs/sinks.md) or set createTable: true`,
        errorType,
      );
    case '42703':
      return make(
        'fatal',
        `${at}: ${detail}: add the column to ${where.table} or change the sink's "columns" mapping`,
        errorType,
      );
    case '42P10':
      return make(
        'fatal',
        `${at}: ${detail}: the column that takes the event id must be the primary key (or have a unique index) of ${where.table}`,
        errorType,
      );
    case '3F000':
      return make('fatal', `${at}: ${detail}: create the schema of ${where.table} first`, errorType);
    case '3D000':
      return make('fatal', `${at}: ${detail}: check "database" (or the url's path), or create the database`, errorType);
    case '42501':
      return make(
        'fatal',
        `${at}: ${detail}: grant user "${where.user}" INSERT and SELECT on ${where.table} (and CREATE on the schema with createTable)`,
        errorType,
      );
  }
  if (state.startsWith('28'))
    return make(
      'fatal',
      `${at} refused user "${where.user}": ${detail}: check user and password (and pg_hba.conf)`,
      errorType,
    );
  if (state.startsWith('42')) return make('fatal', `${at}: ${detail} (SQLSTATE ${state})`, errorType);
  return make('retry', `${at}: ${detail} (SQLSTATE ${state})`, errorType);
}
