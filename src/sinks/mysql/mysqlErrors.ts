import { connectionLostCodes } from '../networkErrors.js';
import { SinkError, type SinkFailureKind } from '../sink.js';
import type { SqlWhere } from '../sqlSinkFields.js';

/**
 * How a MySQL / MariaDB failure maps to a failure kind (server error numbers and SQLSTATE),
 * with a message that says what to fix:
 *
 * | failure                                                          | kind      |
 * |------------------------------------------------------------------|-----------|
 * | refused, reset, connection lost, 1053 server shutdown, 2006/2013 gone away, query timeout | reconnect |
 * | 1213 deadlock, 1205 lock wait timeout, 1040 too many connections, 1021/1114 disk or table full | retry |
 * | SQLSTATE 22xxx, 23xxx (too long, out of range, not null, CHECK, foreign key), 1366/1292 incorrect value, 3819 check (MySQL) | reject |
 * | 1045/1044/1698 access denied, 1049 unknown database, 1146 no table, 1054 unknown column, 1142/1143 command denied | fatal |
 * | anything else                                                    | retry     |
 */
const NETWORK_CODES = connectionLostCodes([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
]);
const RECONNECT_ERRNOS = new Set([1053, 1927, 2006, 2013]);
const RETRY_ERRNOS = new Set([1213, 1205, 1040, 1021, 1114, 1203]);
const DATA_ERRNOS = new Set([1366, 1292, 1265, 1264, 1406, 1048, 1452, 1451, 4025, 3819, 1062, 3140]);

interface MysqlErrorLike {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  sqlMessage?: string;
  message?: string;
  fatal?: boolean;
}

/** True for the errors a single row causes: the row goes to the dead letter. */
export function isDataError(err: unknown): boolean {
  const e = err as MysqlErrorLike | undefined;
  if (!e || e.fatal) return false;
  const state = typeof e.sqlState === 'string' ? e.sqlState : '';
  return state.startsWith('22') || state.startsWith('23') || (typeof e.errno === 'number' && DATA_ERRNOS.has(e.errno));
}

export function rowReason(err: unknown): string {
  const e = err as MysqlErrorLike;
  return `mysql refused the row: ${e.sqlMessage ?? e.message ?? String(err)} (${e.code ?? 'error'} ${e.errno ?? ''}, SQLSTATE ${e.sqlState ?? 'unknown'})`.replace(
    ' ,',
    ',',
  );
}

export function classifyMysqlError(err: unknown, where: SqlWhere): SinkError {
  if (err instanceof SinkError) return err;
  const e = (err ?? {}) as MysqlErrorLike;
  const detail = e.sqlMessage ?? e.message ?? String(err);
  const code = typeof e.code === 'string' ? e.code : undefined;
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const at = `mysql ${where.host}:${where.port}/${where.database}`;
  const errorType = errno !== undefined && errno >= 1000 ? `mysql_${errno}` : (code ?? 'mysql_unknown').toLowerCase();
  const make = (kind: SinkFailureKind, message: string) => new SinkError(kind, message, { errorType, cause: err });

  if ((code && NETWORK_CODES.has(code)) || (errno !== undefined && RECONNECT_ERRNOS.has(errno)))
    return make('reconnect', `${at}: ${detail}`);
  if (errno !== undefined && RETRY_ERRNOS.has(errno)) return make('retry', `${at}: ${detail}`);
  if (isDataError(err)) return make('reject', rowReason(err));
  switch (errno) {
    case 1045:
    case 1698:
      return make('fatal', `${at} refused user "${where.user}": ${detail}: check user and password`);
    case 1044:
    case 1142:
    case 1143:
      return make(
        'fatal',
        `${at}: ${detail}: grant user "${where.user}" INSERT and SELECT on ${where.table} (and CREATE with createTable)`,
      );
    case 1049:
      return make('fatal', `${at}: ${detail}: check "database" (or the url's path), or create the database`);
    case 1046:
      return make('fatal', `${at}: ${detail}: set "database", or qualify the table as database.table`);
    case 1146:
      return make(
        'fatal',
        `${at}: ${detail}: create table ${where.table} (the DDL is in docs/sinks.md) or set createTable: true`,
      );
    case 1054:
      return make('fatal', `${at}: ${detail}: add the column to ${where.table} or change the sink's "columns" mapping`);
  }
  // A fatal protocol error, or a closed connection the client will not reuse.
  if (e.fatal || /closed state|connection is closed|Connection lost/i.test(detail))
    return make('reconnect', `${at}: ${detail}`);
  if (errno !== undefined && errno >= 1000 && typeof e.sqlState === 'string' && e.sqlState.startsWith('42'))
    return make('fatal', `${at}: ${detail}`);
  return make('retry', `${at}: ${detail}`);
}
