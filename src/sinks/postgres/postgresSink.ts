import pg from 'pg';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { SinkError, type RejectedEvent, type Sink, type SinkContext } from '../sink.js';
import { alwaysPresent, columnMapping, sourceKind, valueAt, type ColumnMapping, type SourceKind } from '../sqlColumns.js';
import { copyChunks, copyFrom } from './copyFrom.js';
import type { PostgresSinkConfig } from './index.js';
import { classifyPgError, isDataError, rowReason, sqlState, type PgWhere } from './pgErrors.js';

/** PostgreSQL takes at most 65535 parameters in one statement. */
const MAX_PARAMS = 65_535;

/** COPY refused as an operation on this table, not for its data: 0A000, e.g. "COPY FROM not supported with row-level security". */
const COPY_UNSUPPORTED = new Set(['0A000']);

/** Column types `createTable` uses for each kind of source. */
const CREATE_TYPES: Record<SourceKind, string> = {
  id: 'text PRIMARY KEY',
  text: 'text',
  longText: 'text',
  time: 'timestamptz',
  json: 'jsonb',
};

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteTable(table: string): string {
  return table.split('.').map(quoteIdent).join('.');
}

/** The CREATE TABLE statement `createTable` runs (and docs/sinks.md shows for the default mapping). */
export function createTableSql(table: string, mapping: ColumnMapping): string {
  const lines = mapping.columns.map((column, i) => {
    const source = mapping.sources[i]!;
    const notNull = alwaysPresent(source) && source !== 'id' ? ' NOT NULL' : '';
    return `${quoteIdent(column)} ${CREATE_TYPES[sourceKind(source)]}${notNull}`;
  });
  if (!mapping.columns.includes('received_at')) lines.push(`"received_at" timestamptz NOT NULL DEFAULT now()`);
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (\n  ${lines.join(',\n  ')}\n)`;
}

/** Turns an event value into the parameter a column of this type takes. */
export function encode(value: unknown, columnType: string): unknown {
  if (value === undefined || value === null) return null;
  if (columnType === 'json' || columnType === 'jsonb') return JSON.stringify(value);
  if (typeof value === 'number' && (columnType.startsWith('timestamp') || columnType === 'date')) return new Date(value).toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

/**
 * Writes each batch with one `COPY ... FROM STDIN`, and falls back to a multi-row
 * `INSERT ... ON CONFLICT (<id column>) DO NOTHING` when the COPY is refused, so a batch
 * delivered again after a crash or a lost connection writes nothing twice.
 *
 * - COPY is the fast path (several times the INSERT's rows/s, see docs/performance.md) but it
 *   has no ON CONFLICT: one id already in the table fails the whole COPY with a unique
 *   violation, and nothing of it is written. That is a data error (class 23), so the same
 *   attempt writes the batch again with the INSERT, which skips the ids already there. A
 *   redelivery, the only way an id comes twice, costs one refused COPY.
 * - A table COPY cannot write (row-level security that applies to the user: SQLSTATE 0A000)
 *   is remembered and gets the INSERT, which obeys the policies, from then on.
 * - One attempt per `deliver` on one connection; the dispatcher owns retries and reconnects.
 * - A batch larger than one INSERT can carry (65535 parameters) is split into several
 *   INSERTs inside one transaction: the batch is written whole or not at all.
 * - When the INSERT fails on a data error too (class 22 or 23: a value too long, a CHECK or
 *   NOT NULL violation), the sink inserts the batch again row by row in one transaction, each
 *   row under a savepoint, commits the rows that go in, and names the others (with
 *   PostgreSQL's message) so the dispatcher dead-letters just them. Still one attempt.
 */
export class PostgresSink implements Sink {
  private readonly mapping: ColumnMapping;
  private readonly where: PgWhere;
  private client: pg.Client | undefined;
  /** Why the connection went away since the last deliver, if it did. */
  private broken: unknown;
  /** The type of each mapped column, read from the table at open. */
  private columnTypes: string[] = [];
  /** False once the table refused COPY as an operation (not for its data). */
  private copyWorks = true;

  constructor(
    private readonly config: PostgresSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
  ) {
    this.mapping = columnMapping(config.columns);
    const url = config.url ? new URL(config.url) : undefined;
    this.where = {
      host: url?.hostname || config.host || 'localhost',
      port: Number(url?.port || config.port || 5432),
      database: (url ? decodeURIComponent(url.pathname.slice(1)) : config.database) || 'postgres',
      user: (url ? decodeURIComponent(url.username) : config.user) || 'postgres',
      table: config.table,
    };
  }

  async open(): Promise<void> {
    if (this.client && !this.broken) return;
    await this.close();
    this.broken = undefined;
    const client = new pg.Client({
      ...(this.config.url
        ? { connectionString: this.config.url }
        : { host: this.where.host, port: this.where.port, user: this.where.user, password: this.config.password, database: this.where.database }),
      connectionTimeoutMillis: this.config.connectTimeoutMs,
      query_timeout: this.config.queryTimeoutMs,
      keepAlive: true,
      application_name: `beacon sink ${this.context.name}`.slice(0, 63),
    });
    client.on('error', (err) => {
      this.broken ??= err;
    });
    try {
      await client.connect();
      if (this.config.createTable) await this.createTable(client);
      this.columnTypes = await this.describeTable(client);
      this.client = client;
    } catch (err) {
      await client.end().catch(() => {});
      throw classifyPgError(err, this.where);
    }
  }

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const client = this.client;
    if (!client || this.broken) throw this.lostConnection();
    if (this.copyWorks) {
      try {
        await copyFrom(client, this.copySql, copyChunks(batch, (event) => this.row(event)));
        return;
      } catch (err) {
        if (COPY_UNSUPPORTED.has(sqlState(err) ?? '')) this.copyWorks = false;
        else if (!isDataError(err)) throw this.failed(err);
      }
    }
    const rows = batch.map((event) => this.row(event));
    try {
      await this.insertAll(client, rows);
    } catch (err) {
      if (!isDataError(err)) throw this.failed(err);
      await this.insertRowByRow(client, rows);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // Every deliver waits for its statement, so nothing is buffered here.
    await Promise.race([client.end().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  private row(event: TrackedEvent): unknown[] {
    return this.mapping.sources.map((source, i) => encode(valueAt(event, source), this.columnTypes[i]!));
  }

  private get copySql(): string {
    return `COPY ${quoteTable(this.config.table)} (${this.mapping.columns.map(quoteIdent).join(',')}) FROM STDIN`;
  }

  private insertSql(rowCount: number): string {
    const n = this.mapping.columns.length;
    const values = Array.from({ length: rowCount }, (_, r) => `(${Array.from({ length: n }, (_, c) => `$${r * n + c + 1}`).join(',')})`);
    return `INSERT INTO ${quoteTable(this.config.table)} (${this.mapping.columns.map(quoteIdent).join(',')}) VALUES ${values.join(',')} ON CONFLICT (${quoteIdent(this.mapping.idColumn)}) DO NOTHING`;
  }

  private async insertAll(client: pg.Client, rows: unknown[][]): Promise<void> {
    const perStatement = Math.floor(MAX_PARAMS / this.mapping.columns.length);
    if (rows.length <= perStatement) {
      await client.query(this.insertSql(rows.length), rows.flat());
      return;
    }
    await client.query('BEGIN');
    try {
      for (let i = 0; i < rows.length; i += perStatement) {
        const chunk = rows.slice(i, i + perStatement);
        await client.query(this.insertSql(chunk.length), chunk.flat());
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /** The fallback after a data error: every row under its own savepoint, in one transaction. */
  private async insertRowByRow(client: pg.Client, rows: unknown[][]): Promise<void> {
    const rejected: RejectedEvent[] = [];
    let errorType = 'pg_data';
    const one = this.insertSql(1);
    try {
      await client.query('BEGIN');
      for (let index = 0; index < rows.length; index++) {
        await client.query('SAVEPOINT beacon_row');
        try {
          await client.query(one, rows[index]);
          await client.query('RELEASE SAVEPOINT beacon_row');
        } catch (err) {
          if (!isDataError(err)) throw err;
          await client.query('ROLLBACK TO SAVEPOINT beacon_row');
          rejected.push({ index, reason: rowReason(err) });
          errorType = classifyPgError(err, this.where).errorType;
        }
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw this.failed(err);
    }
    if (rejected.length > 0) {
      throw new SinkError('reject', `postgres refused ${rejected.length} of ${rows.length} row(s) of the batch: ${rejected[0]!.reason}`, { errorType, rejected });
    }
  }

  private async createTable(client: pg.Client): Promise<void> {
    try {
      await client.query(createTableSql(this.config.table, this.mapping));
    } catch (err) {
      // Two sinks creating the same table at once: one wins, the other sees it exist.
      const state = (err as { code?: string }).code;
      if (state !== '23505' && state !== '42P07') throw err;
    }
  }

  /** The type of every mapped column; fatal when the table or a column is missing, or the id column is not unique. */
  private async describeTable(client: pg.Client): Promise<string[]> {
    const result = await client.query<{ exists: boolean; name: string | null; type: string | null }>(
      `SELECT to_regclass($1) IS NOT NULL AS exists, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
         FROM (SELECT 1) one
         LEFT JOIN pg_attribute a ON a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [quoteTable(this.config.table)],
    );
    const at = `postgres ${this.where.host}:${this.where.port}/${this.where.database}`;
    if (!result.rows[0]?.exists) {
      throw new SinkError('fatal', `${at}: table ${this.config.table} does not exist: create it (the DDL is in docs/sinks.md) or set createTable: true`, { errorType: 'no_table' });
    }
    const types = new Map(result.rows.map((r) => [r.name, r.type ?? '']));
    const missing = this.mapping.columns.filter((c) => !types.has(c));
    if (missing.length > 0) {
      throw new SinkError('fatal', `${at}: table ${this.config.table} has no column ${missing.join(', ')}: add it, or change the sink's "columns" mapping`, { errorType: 'no_column' });
    }
    // COPY has no ON CONFLICT: without a unique key on the id a redelivery would write twice,
    // where the INSERT would have failed (42P10). The key ON CONFLICT (id) can use: unique,
    // immediate, on exactly that column, not partial, not an expression.
    const key = await client.query<{ unique_id: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indimmediate AND i.indnkeyatts = 1
           AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = $2) AS unique_id`,
      [quoteTable(this.config.table), this.mapping.idColumn],
    );
    if (!key.rows[0]?.unique_id) {
      throw new SinkError('fatal', `${at}: column ${this.mapping.idColumn} of ${this.config.table} must be the primary key (or have a unique index): it takes the event id that keeps redeliveries from writing twice`, { errorType: 'no_unique_id' });
    }
    return this.mapping.columns.map((c) => types.get(c)!.replace(/\(.*$/, ''));
  }

  /** Classifies a failure; one that leaves the connection unusable marks it broken. */
  private failed(err: unknown): SinkError {
    const e = this.broken && !(err instanceof SinkError) ? this.lostConnection() : classifyPgError(err, this.where);
    if (e.kind === 'reconnect') this.broken ??= err;
    return e;
  }

  private lostConnection(): SinkError {
    const cause = this.broken;
    if (cause) {
      const e = classifyPgError(cause, this.where);
      return e.kind === 'fatal' ? e : new SinkError('reconnect', e.message, { errorType: e.errorType, cause });
    }
    return new SinkError('reconnect', 'postgres sink is not connected', { errorType: 'not_open' });
  }
}
