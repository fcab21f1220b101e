import type { Logger } from 'pino';
import { BeaconError } from '../../../errors/beaconError.js';
import type { PostgresSinkConfig } from '../../../sinks/postgres/index.js';
import { replicaSetFor } from '../replicaSet.js';
import type { QueryDialect } from '../../../sql/dialect.js';
import { queryDialect, quoteTable, SERVER_DEFAULTS } from '../../../sql/postgres.js';
import { sqlWhere } from '../../../sinks/sqlSinkFields.js';
import type { PostgresStoreConfig } from '../sqlStoreConfig.js';
import { SqlStoreReader, type SqlBackend } from '../sqlStoreReader.js';
import type { StoreMetrics } from '../storeMetrics.js';
import type { StoreColumns } from '../storeSink.js';
import { checkColumns, tableHints, tableMissing } from '../tableCheck.js';
import { PgTarget, type PgServer } from './pgTarget.js';

/**
 * The store over the table a postgres sink writes (default layout: `ts timestamptz`,
 * `props jsonb`, the id the primary key, so no id is ever there twice).
 *
 * Column types it reads: time columns `timestamptz`, `timestamp` (holding UTC, as the sink
 * writes it) or an integer of epoch ms; `props` `jsonb`, `json` or text holding JSON.
 */
const TIME_TYPES = /^(timestamp with time zone|timestamp without time zone|bigint|integer|numeric)$/;
const JSON_TYPES = /^(jsonb|json|text|character varying)$/;

/** SQLSTATE classes that are about the statement (so every server answers the same), not about reaching the server. */
const STATEMENT_CLASSES = ['0A', '21', '22', '2F', '39', '3F', '42'];

export function openPostgresStore(
  store: PostgresStoreConfig,
  sink: PostgresSinkConfig,
  columns: StoreColumns,
  context: { logger: Logger; metrics: StoreMetrics },
): SqlStoreReader<PgTarget> {
  const target = (server: PgServer, role: 'writer' | 'replica') =>
    new PgTarget(server, {
      role,
      poolSize: store.poolSize,
      queryTimeoutMs: store.queryTimeout,
      connectTimeoutMs: store.connectTimeout,
      applicationName: `beacon store ${sink.name} (${role})`,
      logger: context.logger,
    });
  const replicas = replicaSetFor(
    store,
    { writer: sinkServer(sink), replica: replicaServer, target },
    { kind: 'postgres', isUnavailable, isTimeout, metrics: context.metrics, logger: context.logger },
  );
  return new SqlStoreReader(new PostgresBackend(sink, columns), replicas, columns);
}

class PostgresBackend implements SqlBackend<PgTarget> {
  readonly kind = 'postgres';

  constructor(
    private readonly sink: PostgresSinkConfig,
    private readonly columns: StoreColumns,
  ) {}

  async describe(target: PgTarget): Promise<QueryDialect> {
    const rows = await target.query(
      `SELECT to_regclass($1) IS NOT NULL AS exists, a.attname AS name, format_type(a.atttypid, NULL) AS type
         FROM (SELECT 1) one
         LEFT JOIN pg_attribute a ON a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [quoteTable(this.sink.table)],
    );
    const described = { at: `postgres ${target.label}`, table: this.sink.table, sink: this.sink.name };
    if (rows[0]?.exists !== true) throw tableMissing(described);
    const types = new Map(rows.map((r) => [String(r.name), String(r.type)]));
    checkColumns(described, types, this.columns, {
      time: (type) => TIME_TYPES.test(type),
      timeTypes: 'timestamptz, timestamp (UTC) or bigint epoch ms',
      json: (type) => JSON_TYPES.test(type),
      jsonTypes: 'jsonb, json or text holding JSON',
    });
    return queryDialect(this.sink.table, types, this.columns.field);
  }

  run(target: PgTarget, statement: { sql: string; values: unknown[] }): Promise<Record<string, unknown>[]> {
    return target.query(statement.sql, statement.values);
  }

  explain(err: unknown): BeaconError {
    const e = (err ?? {}) as { code?: unknown; message?: string };
    const state = typeof e.code === 'string' ? e.code : 'unknown';
    const detail = `${e.message ?? String(err)} (SQLSTATE ${state})`;
    const hints = tableHints(this.sink.table, this.sink.name);
    const why: Record<string, string> = { '42P01': hints.tableGone, '42703': hints.columnGone, '42501': hints.noGrant };
    return new BeaconError(
      'BEACON_E_STORE_QUERY',
      `postgres store: ${detail}${why[state] ? `: ${why[state]}` : ''}`,
      { sqlState: state },
      { cause: err },
    );
  }
}

/** The server cancelled the statement at statement_timeout (57014 query_canceled): too slow, not down. */
function isTimeout(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === '57014';
}

function isUnavailable(err: unknown): boolean {
  if (err instanceof BeaconError) return false;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return !STATEMENT_CLASSES.some((c) => code.startsWith(c));
}

/** The sink's server: its url, or host/port/user/password/database with the sink's defaults. */
export function sinkServer(sink: PostgresSinkConfig): PgServer {
  const url = sink.url ? new URL(sink.url) : undefined;
  const { host, port, user, database } = sqlWhere(sink, SERVER_DEFAULTS);
  return {
    host,
    port,
    user,
    password: url ? decodeURIComponent(url.password) || undefined : sink.password,
    database,
    url: sink.url,
  };
}

/** A replica URL, with the user, password and database it leaves out taken from the writer. */
export function replicaServer(replicaUrl: string, writer: PgServer): PgServer {
  const url = new URL(replicaUrl);
  if (!url.username) url.username = encodeURIComponent(writer.user);
  if (!url.password && writer.password) url.password = encodeURIComponent(writer.password);
  if (url.pathname === '' || url.pathname === '/') url.pathname = `/${encodeURIComponent(writer.database)}`;
  return {
    host: url.hostname || 'localhost',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password) || undefined,
    database: decodeURIComponent(url.pathname.slice(1)),
    url: url.toString(),
  };
}
