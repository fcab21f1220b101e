import type { Logger } from 'pino';
import { BeaconError } from '../../../errors/beaconError.js';
import type { MysqlSinkConfig } from '../../../sinks/mysql/index.js';
import { quoteIdent, quoteTable } from '../../../sinks/mysql/mysqlSink.js';
import { replicaSetFor } from '../replicaSet.js';
import { positionalParams, type SqlDialect } from '../sqlDialect.js';
import type { MysqlStoreConfig } from '../sqlStoreConfig.js';
import { SqlStoreReader, type SqlBackend } from '../sqlStoreReader.js';
import type { StoreMetrics } from '../storeMetrics.js';
import type { StoreColumns } from '../storeSink.js';
import { checkColumns, tableHints, tableMissing } from '../tableCheck.js';
import { MysqlTarget, type MysqlServer } from './mysqlTarget.js';

/**
 * The store over the table a mysql sink writes, on MySQL or MariaDB (default layout:
 * `ts DATETIME(3)` holding UTC, `props JSON` — a LONGTEXT with a json_valid check on
 * MariaDB — and the id the primary key, so no id is ever there twice).
 *
 * Text is compared and grouped byte for byte (`COLLATE utf8mb4_bin`): the default
 * collations fold case and accents, which would count `Signup` and `signup` as one type. The
 * plain comparison is kept beside the exact one where an index on the column can serve it.
 */
const TIME_TYPES = new Set(['datetime', 'timestamp', 'bigint', 'int', 'decimal']);
const JSON_TYPES = new Set(['json', 'longtext', 'mediumtext', 'text', 'varchar']);

/**
 * Server errors about reaching or using the server rather than about the statement: too many
 * connections, access denied, unknown database, shutdown, killed or interrupted, lock waits,
 * network read/write errors. Statement time limits (MySQL 3024, MariaDB 1969) are not here:
 * they are timeouts of the query (TIMEOUT_ERRNOS), answered without failing over.
 */
const SERVER_ERRNOS = new Set([1040, 1044, 1045, 1049, 1053, 1129, 1152, 1153, 1158, 1159, 1160, 1161, 1203, 1205, 1213, 1226, 1317, 1698, 1927]);
const TIMEOUT_ERRNOS = new Set([1969, 3024]);

export function openMysqlStore(store: MysqlStoreConfig, sink: MysqlSinkConfig, columns: StoreColumns, context: { logger: Logger; metrics: StoreMetrics }): SqlStoreReader<MysqlTarget> {
  const target = (server: MysqlServer, role: 'writer' | 'replica') =>
    new MysqlTarget(server, { role, poolSize: store.poolSize, queryTimeoutMs: store.queryTimeout, connectTimeoutMs: store.connectTimeout, programName: `beacon store ${sink.name} (${role})` });
  const replicas = replicaSetFor(store, { writer: sinkServer(sink), replica: replicaServer, target }, { kind: 'mysql', isUnavailable, isTimeout, metrics: context.metrics, logger: context.logger });
  return new SqlStoreReader(new MysqlBackend(sink, columns), replicas, columns);
}

class MysqlBackend implements SqlBackend<MysqlTarget> {
  readonly kind = 'mysql';

  constructor(
    private readonly sink: MysqlSinkConfig,
    private readonly columns: StoreColumns,
  ) {}

  async describe(target: MysqlTarget): Promise<SqlDialect> {
    const [schema, table] = this.sink.table.includes('.') ? this.sink.table.split('.') : [undefined, this.sink.table];
    const rows = await target.query('SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?', [schema ?? null, table]);
    const described = { at: `mysql ${target.label}`, table: this.sink.table, sink: this.sink.name };
    if (rows.length === 0) throw tableMissing(described);
    const types = new Map(rows.map((r) => [String(r.name), String(r.type).toLowerCase()]));
    checkColumns(described, types, this.columns, {
      time: (type) => TIME_TYPES.has(type),
      timeTypes: 'DATETIME(3), TIMESTAMP (UTC) or BIGINT epoch ms',
      json: (type) => JSON_TYPES.has(type),
      jsonTypes: 'JSON or a text column holding JSON',
    });
    return mysqlDialect(this.sink.table, types, this.columns);
  }

  run(target: MysqlTarget, statement: { sql: string; values: unknown[] }): Promise<Record<string, unknown>[]> {
    return target.query(statement.sql, statement.values);
  }

  explain(err: unknown): BeaconError {
    const e = (err ?? {}) as { errno?: unknown; code?: unknown; sqlMessage?: string; message?: string };
    const errno = typeof e.errno === 'number' ? e.errno : undefined;
    const detail = `${e.sqlMessage ?? e.message ?? String(err)} (${String(e.code ?? 'error')}${errno ? ` ${errno}` : ''})`;
    const hints = tableHints(this.sink.table, this.sink.name);
    const why: Record<number, string> = { 1146: hints.tableGone, 1054: hints.columnGone, 1142: hints.noGrant };
    const hint = errno !== undefined ? why[errno] : undefined;
    return new BeaconError('BEACON_E_STORE_QUERY', `mysql store: ${detail}${hint ? `: ${hint}` : ''}`, { errno }, { cause: err });
  }
}

function mysqlDialect(table: string, types: ReadonlyMap<string, string>, columns: StoreColumns): SqlDialect {
  const isDatetime = (column: string) => types.get(column) === 'datetime' || types.get(column) === 'timestamp';
  const props = quoteIdent(columns.field.props);
  return {
    table: quoteTable(table),
    countFrom: quoteTable(table),
    quote: quoteIdent,
    params: positionalParams,
    // TIMESTAMPDIFF counts from a fixed DATETIME, so it works past 2038 where UNIX_TIMESTAMP stops.
    timeMs: (column) => (isDatetime(column) ? `(TIMESTAMPDIFF(MICROSECOND, DATE '1970-01-01', ${quoteIdent(column)}) DIV 1000)` : `CAST(${quoteIdent(column)} AS SIGNED)`),
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

function isTimeout(err: unknown): boolean {
  const errno = (err as { errno?: unknown } | undefined)?.errno;
  return typeof errno === 'number' && TIMEOUT_ERRNOS.has(errno);
}

function isUnavailable(err: unknown): boolean {
  if (err instanceof BeaconError) return false;
  const e = err as { errno?: unknown; sqlState?: unknown; fatal?: unknown } | undefined;
  // Only an error the server answered carries a SQLSTATE; the rest (refused, reset, timed out) are about the link.
  if (e?.fatal === true || typeof e?.sqlState !== 'string' || typeof e.errno !== 'number') return true;
  return SERVER_ERRNOS.has(e.errno);
}

/** The sink's server: its url, or host/port/user/password/database with the sink's defaults. */
export function sinkServer(sink: MysqlSinkConfig): MysqlServer {
  const url = sink.url ? new URL(sink.url) : undefined;
  return {
    host: url?.hostname || sink.host || 'localhost',
    port: Number(url?.port || sink.port || 3306),
    user: (url ? decodeURIComponent(url.username) : sink.user) || 'root',
    password: url ? decodeURIComponent(url.password) : (sink.password ?? ''),
    database: (url ? decodeURIComponent(url.pathname.slice(1)) : sink.database) || '',
  };
}

/** A replica URL, with the user, password and database it leaves out taken from the writer. */
export function replicaServer(replicaUrl: string, writer: MysqlServer): MysqlServer {
  const url = new URL(replicaUrl);
  const path = decodeURIComponent(url.pathname.slice(1));
  return {
    host: url.hostname || 'localhost',
    port: Number(url.port || 3306),
    user: url.username ? decodeURIComponent(url.username) : writer.user,
    password: url.username || url.password ? decodeURIComponent(url.password) : writer.password,
    database: path || writer.database,
  };
}
