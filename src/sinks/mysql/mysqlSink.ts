import mysql from 'mysql2/promise';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { SinkError, type RejectedEvent, type Sink, type SinkContext } from '../sink.js';
import { alwaysPresent, columnMapping, sourceKind, valueAt, type ColumnMapping, type SourceKind } from '../sqlColumns.js';
import type { MysqlSinkConfig } from './index.js';
import { classifyMysqlError, isDataError, rowReason, type MysqlWhere } from './mysqlErrors.js';

/** Rows per INSERT statement: keeps a statement well under max_allowed_packet (16 MiB on MariaDB). */
const ROWS_PER_STATEMENT = 1000;

/** Column types `createTable` uses for each kind of source (utf8mb4: 255 characters fit an InnoDB key). */
const CREATE_TYPES: Record<SourceKind, string> = {
  id: 'VARCHAR(255) NOT NULL PRIMARY KEY',
  text: 'VARCHAR(255)',
  longText: 'TEXT',
  time: 'DATETIME(3)',
  json: 'JSON',
};

export function quoteIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
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
  if (!mapping.columns.includes('received_at')) lines.push('`received_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (\n  ${lines.join(',\n  ')}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;
}

/** Turns an event value into what a column of this type takes (`json` also covers MariaDB's JSON alias). */
export function encode(value: unknown, columnType: string): unknown {
  if (value === undefined || value === null) return null;
  if (columnType === 'json') return JSON.stringify(value);
  if (typeof value === 'number' && (columnType === 'datetime' || columnType === 'timestamp' || columnType === 'date')) return new Date(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

/**
 * Writes each batch with one multi-row `INSERT ... ON DUPLICATE KEY UPDATE <id> = <id>`, so a
 * batch delivered again writes nothing twice, under a strict sql_mode so that a bad value
 * fails its statement instead of being truncated. `INSERT IGNORE` is not used: it also turns
 * data errors (a value too long, a NOT NULL or CHECK violation) into warnings and writes a
 * truncated or defaulted row.
 *
 * - The session adds `STRICT_ALL_TABLES` to the server's sql_mode and uses UTC (`time_zone
 *   '+00:00'`), so DATETIME columns hold UTC.
 * - A batch over 1000 rows is split into several INSERTs inside one transaction.
 * - On a data error the sink inserts the batch again row by row in one transaction (a failed
 *   statement rolls back only itself in InnoDB), commits the rows that go in, and names the
 *   others with the server's message so the dispatcher dead-letters just them.
 */
export class MysqlSink implements Sink {
  private readonly mapping: ColumnMapping;
  private readonly where: MysqlWhere;
  private connection: mysql.Connection | undefined;
  private broken: unknown;
  private columnTypes: string[] = [];

  constructor(
    private readonly config: MysqlSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
  ) {
    this.mapping = columnMapping(config.columns);
    const url = config.url ? new URL(config.url) : undefined;
    this.where = {
      host: url?.hostname || config.host || 'localhost',
      port: Number(url?.port || config.port || 3306),
      database: (url ? decodeURIComponent(url.pathname.slice(1)) : config.database) || '',
      user: (url ? decodeURIComponent(url.username) : config.user) || 'root',
      table: config.table,
    };
  }

  async open(): Promise<void> {
    if (this.connection && !this.broken) return;
    await this.close();
    this.broken = undefined;
    const url = this.config.url ? new URL(this.config.url) : undefined;
    let connection: mysql.Connection | undefined;
    try {
      connection = await mysql.createConnection({
        host: this.where.host,
        port: this.where.port,
        user: this.where.user,
        password: url ? decodeURIComponent(url.password) : (this.config.password ?? ''),
        ...(this.where.database ? { database: this.where.database } : {}),
        connectTimeout: this.config.connectTimeoutMs,
        timezone: 'Z',
        charset: 'utf8mb4',
        enableKeepAlive: true,
        supportBigNumbers: true,
        connectAttributes: { program_name: `beacon sink ${this.context.name}` },
      });
      connection.on('error', (err: unknown) => {
        this.broken ??= err;
      });
      await connection.query("SET SESSION sql_mode = CONCAT_WS(',', 'STRICT_ALL_TABLES', @@SESSION.sql_mode), time_zone = '+00:00'");
      if (this.config.createTable) await connection.query(createTableSql(this.config.table, this.mapping));
      this.columnTypes = await this.describeTable(connection);
      this.connection = connection;
    } catch (err) {
      connection?.destroy();
      throw classifyMysqlError(err, this.where);
    }
  }

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const connection = this.connection;
    if (!connection || this.broken) throw this.lostConnection();
    const rows = batch.map((event) => this.row(event));
    try {
      await this.insertAll(connection, rows);
    } catch (err) {
      if (!isDataError(err)) throw this.failed(err);
      await this.insertRowByRow(connection, rows);
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    const ended = await Promise.race([connection.end().then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
    if (!ended) connection.destroy();
  }

  private row(event: TrackedEvent): unknown[] {
    return this.mapping.sources.map((source, i) => encode(valueAt(event, source), this.columnTypes[i]!));
  }

  private get insertSql(): string {
    const id = quoteIdent(this.mapping.idColumn);
    return `INSERT INTO ${quoteTable(this.config.table)} (${this.mapping.columns.map(quoteIdent).join(',')}) VALUES ? ON DUPLICATE KEY UPDATE ${id} = ${id}`;
  }

  /**
   * One statement, bounded by queryTimeoutMs. The timer is ours rather than the client's
   * (whose timer outlives a connection cut under it): past it the connection is destroyed,
   * which fails the statement, and the dispatcher reconnects.
   */
  private async query(connection: mysql.Connection, sql: string, values?: unknown[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        connection.destroy();
        reject(new SinkError('reconnect', `mysql ${this.where.host}:${this.where.port}: no answer to a statement within ${this.config.queryTimeoutMs} ms`, { errorType: 'timeout' }));
      }, this.config.queryTimeoutMs);
    });
    try {
      await Promise.race([connection.query({ sql, values }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async insertAll(connection: mysql.Connection, rows: unknown[][]): Promise<void> {
    if (rows.length <= ROWS_PER_STATEMENT) {
      await this.query(connection, this.insertSql, [rows]);
      return;
    }
    await this.query(connection, 'START TRANSACTION');
    try {
      for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) await this.query(connection, this.insertSql, [rows.slice(i, i + ROWS_PER_STATEMENT)]);
      await this.query(connection, 'COMMIT');
    } catch (err) {
      await this.query(connection, 'ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /** The fallback after a data error: row by row in one transaction, the refused rows named. */
  private async insertRowByRow(connection: mysql.Connection, rows: unknown[][]): Promise<void> {
    const rejected: RejectedEvent[] = [];
    let errorType = 'mysql_data';
    try {
      await this.query(connection, 'START TRANSACTION');
      for (let index = 0; index < rows.length; index++) {
        try {
          await this.query(connection, this.insertSql, [[rows[index]]]);
        } catch (err) {
          if (!isDataError(err)) throw err;
          rejected.push({ index, reason: rowReason(err) });
          errorType = classifyMysqlError(err, this.where).errorType;
        }
      }
      await this.query(connection, 'COMMIT');
    } catch (err) {
      await this.query(connection, 'ROLLBACK').catch(() => {});
      throw this.failed(err);
    }
    if (rejected.length > 0) {
      throw new SinkError('reject', `mysql refused ${rejected.length} of ${rows.length} row(s) of the batch: ${rejected[0]!.reason}`, { errorType, rejected });
    }
  }

  /** The type of every mapped column (MariaDB's JSON, a LONGTEXT with a json_valid check, counts as json). */
  private async describeTable(connection: mysql.Connection): Promise<string[]> {
    const [schema, table] = this.config.table.includes('.') ? this.config.table.split('.') : [undefined, this.config.table];
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, TABLE_SCHEMA AS db FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?',
      [schema ?? null, table],
    );
    const at = `mysql ${this.where.host}:${this.where.port}/${this.where.database}`;
    if (rows.length === 0) {
      throw new SinkError('fatal', `${at}: table ${this.config.table} does not exist: create it (the DDL is in docs/sinks.md) or set createTable: true`, { errorType: 'no_table' });
    }
    const types = new Map(rows.map((r) => [String(r.name), String(r.type).toLowerCase()]));
    const missing = this.mapping.columns.filter((c) => !types.has(c));
    if (missing.length > 0) {
      throw new SinkError('fatal', `${at}: table ${this.config.table} has no column ${missing.join(', ')}: add it, or change the sink's "columns" mapping`, { errorType: 'no_column' });
    }
    // Without a unique key on the id column ON DUPLICATE KEY never fires and redeliveries write twice.
    const [keys] = await connection.query<mysql.RowDataPacket[]>(
      `SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0
        GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND MAX(COLUMN_NAME) = ?`,
      [String(rows[0]!.db), table, this.mapping.idColumn],
    );
    if (keys.length === 0) {
      throw new SinkError('fatal', `${at}: column ${this.mapping.idColumn} of ${this.config.table} must be the primary key (or have a unique index): it takes the event id that keeps redeliveries from writing twice`, { errorType: 'no_unique_id' });
    }
    for (const column of await this.mariadbJsonColumns(connection, String(rows[0]!.db), table!)) types.set(column, 'json');
    return this.mapping.columns.map((c) => types.get(c)!);
  }

  /** MariaDB stores JSON as LONGTEXT CHECK (json_valid(col)); MySQL has a real type and no TABLE_NAME here. */
  private async mariadbJsonColumns(connection: mysql.Connection, schema: string, table: string): Promise<string[]> {
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>(
        'SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?',
        [schema, table],
      );
      return rows.flatMap((r) => {
        const m = /^json_valid\(`([^`]+)`\)$/i.exec(String(r.clause).trim());
        return m ? [m[1]!] : [];
      });
    } catch {
      return [];
    }
  }

  private failed(err: unknown): SinkError {
    const e = this.broken && !(err instanceof SinkError) ? this.lostConnection() : classifyMysqlError(err, this.where);
    if (e.kind === 'reconnect') this.broken ??= err;
    return e;
  }

  private lostConnection(): SinkError {
    const cause = this.broken;
    if (cause) {
      const e = classifyMysqlError(cause, this.where);
      return e.kind === 'fatal' ? e : new SinkError('reconnect', e.message, { errorType: e.errorType, cause });
    }
    return new SinkError('reconnect', 'mysql sink is not connected', { errorType: 'not_open' });
  }
}
