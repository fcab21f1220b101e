import { Readable } from 'node:stream';
import type mysql from 'mysql2/promise';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import {
  CONNECTION_CLOSE_MS,
  SinkError,
  type Attempt,
  type Sink,
  type SinkContext,
  type SinkDeadlines,
  closeOrDestroy,
} from '../sink.js';
import { insertBatch, type InsertTarget } from '../../sql/batchInsert.js';
import { createTableSql, encode, mysql as dialect, SERVER_DEFAULTS } from '../../sql/mysql.js';
import { loadDataBatch, loadDataSql } from '../../sql/mysqlLoadData.js';
import { columnMapping, valueAt, type ColumnMapping } from '../sqlColumns.js';
import type { MysqlSinkConfig } from './index.js';
import { BrokenConnection } from '../connection.js';
import { classifyMysqlError, isDataError, rowReason } from './mysqlErrors.js';
import { sqlWhere, type SqlWhere } from '../sqlSinkFields.js';
import { noTable, noUniqueId, requireMappedColumns } from '../sqlTableChecks.js';
import { lazyRequire } from '../../net/lazyRequire.js';

const mysql2 = lazyRequire<typeof mysql>('mysql2/promise');

/**
 * LOAD DATA LOCAL refused as an operation, not for its data: 1148 ER_NOT_ALLOWED_COMMAND
 * (MariaDB, and MySQL before 8.0.21, with local_infile off), 3948
 * ER_CLIENT_LOCAL_FILES_DISABLED (MySQL 8.0.21+), 4166 ER_LOAD_INFILE_CAPABILITY_DISABLED
 * (MariaDB 10.6+, server or client without the capability), 2068 CR_LOAD_DATA_LOCAL_INFILE_REJECTED.
 */
const LOAD_DATA_REFUSED = new Set([1148, 2068, 3948, 4166]);

/**
 * Destroys the connection's socket, failing its statement in flight with `reason`. mysql2's
 * own `destroy()` only half-closes the socket (`end()`) and leaves the statement waiting for
 * an answer that a server blocked on a lock, or a silent network, never sends.
 */
function destroySocket(connection: mysql.Connection, reason: unknown): void {
  const core = (connection as unknown as { connection: { stream?: { destroy(err?: Error): void } } }).connection;
  const message = reason instanceof Error ? reason.message : String(reason);
  core.stream?.destroy(Object.assign(new Error(`attempt aborted: ${message}`), { code: 'BEACON_ATTEMPT_ABORTED' }));
  connection.destroy();
}

/** The attempt of a `deliver` called outside the loop: never aborted. */
const UNBOUNDED: Attempt = { signal: new AbortController().signal };

/**
 * Writes each fresh batch with one `LOAD DATA LOCAL INFILE` inside a transaction, the rows
 * streamed from memory, and falls back to a multi-row `INSERT ... ON DUPLICATE KEY UPDATE
 * <id> = <id>` (src/sql/batchInsert.ts) when the load does not go in clean, so a batch
 * delivered again writes nothing twice and a bad value is never truncated. Everything runs
 * under a strict sql_mode, so that a bad value fails its INSERT instead of being truncated.
 *
 * - LOAD DATA is the fast path (the server parses one text stream; docs/performance.md), but
 *   with LOCAL the server cannot stop the transfer, so it behaves as with IGNORE: an id
 *   already in the table is skipped, and a bad value is truncated or defaulted, each with a
 *   warning. So the load runs in a transaction and is committed only when it loaded every row
 *   without a warning; otherwise it is rolled back and the same attempt writes the batch
 *   with the INSERT, which skips the ids already there and refuses bad values. A redelivery
 *   (or a bad row) costs one rolled-back load, as a refused COPY does in the postgres sink.
 *   An error the load raises itself is handled the same way when it is a data error.
 * - A server (or client) that refuses LOAD DATA LOCAL (`local_infile` off) is remembered,
 *   logged once with the setting to change, and gets the INSERT from then on.
 * - `INSERT IGNORE` is not used: it also turns data errors (a value too long, a NOT NULL or
 *   CHECK violation) into warnings and writes a truncated or defaulted row.
 * - The session adds `STRICT_ALL_TABLES` to the server's sql_mode and uses UTC (`time_zone
 *   '+00:00'`), so DATETIME columns hold UTC.
 * - A batch over 1000 rows is split into several INSERTs inside one transaction.
 * - On a data error the sink inserts the batch again row by row in one transaction (a failed
 *   statement rolls back only itself in InnoDB), commits the rows that go in, and names the
 *   others with the server's message so the dispatcher dead-letters just them.
 */
export class MysqlSink implements Sink {
  private readonly mapping: ColumnMapping;
  /** Each mapped column's value of an event. */
  private readonly sources: ((event: TrackedEvent) => unknown)[];
  private readonly where: SqlWhere;
  private connection: mysql.Connection | undefined;
  /** Whether the connection went away since the last attempt. */
  private readonly link = new BrokenConnection((err) => classifyMysqlError(err, this.where), 'mysql');
  readonly deadlines: SinkDeadlines;
  private columnTypes: string[] = [];
  /** False once the server refused LOAD DATA LOCAL as an operation (not for its data). */
  private loadDataWorks = true;

  constructor(
    private readonly config: MysqlSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
    /** Tests: mysql2 capability flags, e.g. `-LOCAL_FILES` for a client that refuses LOAD DATA LOCAL. */
    private readonly options: { clientFlags?: string[] } = {},
  ) {
    this.mapping = columnMapping(config.columns);
    this.sources = this.mapping.sources.map((source) => (event: TrackedEvent) => valueAt(event, source));
    this.where = sqlWhere(config, SERVER_DEFAULTS);
    this.deadlines = {
      // The loop bounds the attempt (every statement of the batch); on its abort `deliver`
      // destroys the connection, so the statement ends and the next attempt gets a new one.
      attemptMs: config.queryTimeoutMs,
      timedOut: (ms) =>
        new SinkError(
          'reconnect',
          `mysql ${this.where.host}:${this.where.port}: no answer to the batch's statements within ${ms} ms (queryTimeoutMs)`,
          { errorType: 'timeout' },
        ),
      closeMs: CONNECTION_CLOSE_MS,
    };
  }

  async open(): Promise<void> {
    if (this.connection && !this.link.broken) return;
    await this.close();
    this.link.reset();
    const url = this.config.url ? new URL(this.config.url) : undefined;
    let connection: mysql.Connection | undefined;
    try {
      connection = await mysql2().createConnection({
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
        ...(this.options.clientFlags ? { flags: this.options.clientFlags } : {}),
        connectAttributes: { program_name: `beacon sink ${this.context.name}` },
      });
      connection.on('error', (err: unknown) => {
        this.link.markBroken(err);
      });
      await connection.query(
        "SET SESSION sql_mode = CONCAT_WS(',', 'STRICT_ALL_TABLES', @@SESSION.sql_mode), time_zone = '+00:00'",
      );
      if (this.config.createTable) await connection.query(createTableSql(this.config.table, this.mapping));
      this.columnTypes = await this.describeTable(connection);
      this.connection = connection;
    } catch (err) {
      connection?.destroy();
      throw classifyMysqlError(err, this.where);
    }
  }

  /** Called directly (tests, tools) without an attempt, nothing bounds it. */
  async deliver(batch: readonly TrackedEvent[], attempt: Attempt = UNBOUNDED): Promise<void> {
    const connection = this.connection;
    if (!connection || this.link.broken) throw this.link.lost();
    // mysql2 takes no signal, and a statement waiting on a lock never ends by itself: an
    // aborted attempt destroys its socket, which fails the statement at once (the server drops
    // the session and rolls its transaction back) and leaves the link broken for a reconnect.
    const abandon = () => {
      this.link.markBroken(attempt.signal.reason);
      destroySocket(connection, attempt.signal.reason);
    };
    if (attempt.signal.aborted) abandon();
    attempt.signal.addEventListener('abort', abandon, { once: true });
    try {
      if (this.loadDataWorks && (await this.loadData(connection, batch))) return;
      await insertBatch(
        this.insertTarget(connection),
        batch.map((event) => this.row(event)),
      );
    } finally {
      attempt.signal.removeEventListener('abort', abandon);
    }
  }

  /** Called without a signal (by `open`, or directly), the usual connection deadline applies. */
  async close(signal: AbortSignal = AbortSignal.timeout(CONNECTION_CLOSE_MS)): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    await closeOrDestroy(signal, connection.end(), () => connection.destroy());
  }

  private row(event: TrackedEvent): unknown[] {
    return this.mapping.sources.map((source, i) => encode(valueAt(event, source), this.columnTypes[i]!));
  }

  /**
   * The fast path: true when LOAD DATA wrote every row of the batch without a warning and was
   * committed; false when the batch must go by INSERT (rolled back: an id already there or a
   * bad value; or LOAD DATA LOCAL refused). Other failures are thrown, classified.
   */
  private async loadData(connection: mysql.Connection, batch: readonly TrackedEvent[]): Promise<boolean> {
    try {
      await this.query(connection, 'START TRANSACTION');
      const result = (await this.query(connection, loadDataSql(this.config.table, this.mapping), undefined, () =>
        Readable.from(loadDataBatch(batch, this.sources, this.columnTypes, encode)),
      )) as mysql.ResultSetHeader;
      if (result.affectedRows === batch.length && result.warningStatus === 0) {
        await this.query(connection, 'COMMIT');
        return true;
      }
      await this.query(connection, 'ROLLBACK');
      return false;
    } catch (err) {
      if (!this.link.broken) await this.query(connection, 'ROLLBACK').catch(() => {});
      const errno = (err as { errno?: unknown }).errno;
      if (typeof errno === 'number' && LOAD_DATA_REFUSED.has(errno)) {
        this.loadDataWorks = false;
        this.context.logger.warn(
          { sink: this.context.name, errno },
          `mysql ${this.where.host}:${this.where.port} refuses LOAD DATA LOCAL INFILE: writing with INSERT, several times slower; set local_infile=ON on the server to load batches in bulk`,
        );
        return false;
      }
      if (!isDataError(err)) throw this.link.failed(err);
      return false;
    }
  }

  /** The INSERT path (batchInsert.ts) on this connection. */
  private insertTarget(connection: mysql.Connection): InsertTarget {
    return {
      dialect,
      table: this.config.table,
      mapping: this.mapping,
      run: async (sql, values) => {
        await this.query(connection, sql, values);
      },
      isDataError,
      rowReason,
      errorType: (err) => classifyMysqlError(err, this.where).errorType,
      failed: (err) => this.link.failed(err),
    };
  }

  /** One statement; the attempt's deadline bounds it (see `deliver`). */
  private async query(
    connection: mysql.Connection,
    sql: string,
    values?: unknown[],
    infileStreamFactory?: () => Readable,
  ): Promise<unknown> {
    const [result] = await connection.query({ sql, values, infileStreamFactory });
    return result;
  }

  /** The type of every mapped column (MariaDB's JSON, a LONGTEXT with a json_valid check, counts as json). */
  private async describeTable(connection: mysql.Connection): Promise<string[]> {
    const [schema, table] = this.config.table.includes('.')
      ? this.config.table.split('.')
      : [undefined, this.config.table];
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, TABLE_SCHEMA AS db FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?',
      [schema ?? null, table],
    );
    const at = `mysql ${this.where.host}:${this.where.port}/${this.where.database}`;
    if (rows.length === 0) {
      throw noTable(at, this.config.table);
    }
    const types = new Map(rows.map((r) => [String(r.name), String(r.type).toLowerCase()]));
    requireMappedColumns(at, this.config.table, this.mapping, types);
    // Without a unique key on the id column ON DUPLICATE KEY never fires and redeliveries write twice.
    const [keys] = await connection.query<mysql.RowDataPacket[]>(
      `SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0
        GROUP BY INDEX_NAME HAVING COUNT(*) = 1 AND MAX(COLUMN_NAME) = ?`,
      [String(rows[0]!.db), table, this.mapping.idColumn],
    );
    if (keys.length === 0) {
      throw noUniqueId(at, this.config.table, this.mapping);
    }
    for (const column of await this.mariadbJsonColumns(connection, String(rows[0]!.db), table!))
      types.set(column, 'json');
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
}
