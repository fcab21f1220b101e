import type { Logger } from 'pino';
import { BeaconError } from '../../../errors/beaconError.js';
import type { MysqlSinkConfig } from '../../../sinks/mysql/index.js';
import { replicaSetFor } from '../replicaSet.js';
import type { QueryDialect } from '../../../sql/dialect.js';
import { queryDialect, SERVER_DEFAULTS } from '../../../sql/mysql.js';
import { sqlWhere } from '../../../sinks/sqlSinkFields.js';
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
const SERVER_ERRNOS = new Set([
  1040, 1044, 1045, 1049, 1053, 1129, 1152, 1153, 1158, 1159, 1160, 1161, 1203, 1205, 1213, 1226, 1317, 1698, 1927,
]);
const TIMEOUT_ERRNOS = new Set([1969, 3024]);

export function openMysqlStore(
  store: MysqlStoreConfig,
  sink: MysqlSinkConfig,
  columns: StoreColumns,
  context: { logger: Logger; metrics: StoreMetrics },
): SqlStoreReader<MysqlTarget> {
  const target = (server: MysqlServer, role: 'writer' | 'replica') =>
    new MysqlTarget(server, {
      role,
      poolSize: store.poolSize,
      queryTimeoutMs: store.queryTimeout,
      connectTimeoutMs: store.connectTimeout,
      programName: `beacon store ${sink.name} (${role})`,
    });
  const replicas = replicaSetFor(
    store,
    { writer: sinkServer(sink), replica: replicaServer, target },
    { kind: 'mysql', isUnavailable, isTimeout, metrics: context.metrics, logger: context.logger },
  );
  return new SqlStoreReader(new MysqlBackend(sink, columns), replicas, columns);
}

class MysqlBackend implements SqlBackend<MysqlTarget> {
  readonly kind = 'mysql';

  constructor(
    private readonly sink: MysqlSinkConfig,
    private readonly columns: StoreColumns,
  ) {}

  async describe(target: MysqlTarget): Promise<QueryDialect> {
    const [schema, table] = this.sink.table.includes('.') ? this.sink.table.split('.') : [undefined, this.sink.table];
    const rows = await target.query(
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?',
      [schema ?? null, table],
    );
    const described = { at: `mysql ${target.label}`, table: this.sink.table, sink: this.sink.name };
    if (rows.length === 0) throw tableMissing(described);
    const types = new Map(rows.map((r) => [String(r.name), String(r.type).toLowerCase()]));
    checkColumns(described, types, this.columns, {
      time: (type) => TIME_TYPES.has(type),
      timeTypes: 'DATETIME(3), TIMESTAMP (UTC) or BIGINT epoch ms',
      json: (type) => JSON_TYPES.has(type),
      jsonTypes: 'JSON or a text column holding JSON',
    });
    return queryDialect(this.sink.table, types, this.columns.field);
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
    return new BeaconError(
      'BEACON_E_STORE_QUERY',
      `mysql store: ${detail}${hint ? `: ${hint}` : ''}`,
      { errno },
      { cause: err },
    );
  }
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
  const { host, port, user, database } = sqlWhere(sink, SERVER_DEFAULTS);
  return { host, port, user, password: url ? decodeURIComponent(url.password) : (sink.password ?? ''), database };
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
