import type pg from 'pg';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { CONNECTION_CLOSE_MS, type Sink, type SinkContext, type SinkDeadlines, whenAborted } from '../sink.js';
import { insertBatch, type InsertTarget } from '../../sql/batchInsert.js';
import { copySql, createTableSql, encode, postgres, quoteTable, SERVER_DEFAULTS } from '../../sql/postgres.js';
import { columnMapping, valueAt, type ColumnMapping } from '../sqlColumns.js';
import { copyChunks, copyFrom } from './copyFrom.js';
import type { PostgresSinkConfig } from './index.js';
import { BrokenConnection } from '../connection.js';
import { classifyPgError, isDataError, rowReason, sqlState } from './pgErrors.js';
import { sqlWhere, type SqlWhere } from '../sqlSinkFields.js';
import { noTable, noUniqueId, requireMappedColumns } from '../sqlTableChecks.js';
import { lazyRequire } from '../../net/lazyRequire.js';

const pgModule = lazyRequire<typeof pg>('pg');

/** COPY refused as an operation on this table, not for its data: 0A000, e.g. "COPY FROM not supported with row-level security". */
const COPY_UNSUPPORTED = new Set(['0A000']);

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
  private readonly where: SqlWhere;
  private client: pg.Client | undefined;
  /** Whether the connection went away since the last attempt. */
  private readonly link = new BrokenConnection((err) => classifyPgError(err, this.where), 'postgres');
  readonly deadlines: SinkDeadlines = { closeMs: CONNECTION_CLOSE_MS };
  /** The type of each mapped column, read from the table at open. */
  private columnTypes: string[] = [];
  /** False once the table refused COPY as an operation (not for its data). */
  private copyWorks = true;

  constructor(
    private readonly config: PostgresSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
  ) {
    this.mapping = columnMapping(config.columns);
    this.where = sqlWhere(config, SERVER_DEFAULTS);
  }

  async open(): Promise<void> {
    if (this.client && !this.link.broken) return;
    await this.close();
    this.link.reset();
    const client = new (pgModule().Client)({
      ...(this.config.url
        ? { connectionString: this.config.url }
        : {
            host: this.where.host,
            port: this.where.port,
            user: this.where.user,
            password: this.config.password,
            database: this.where.database,
          }),
      connectionTimeoutMillis: this.config.connectTimeoutMs,
      query_timeout: this.config.queryTimeoutMs,
      keepAlive: true,
      application_name: `beacon sink ${this.context.name}`.slice(0, 63),
    });
    client.on('error', (err) => {
      this.link.markBroken(err);
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
    if (!client || this.link.broken) throw this.link.lost();
    if (this.copyWorks) {
      try {
        await copyFrom(
          client,
          copySql(this.config.table, this.mapping),
          copyChunks(batch, (event) => this.row(event)),
        );
        return;
      } catch (err) {
        if (COPY_UNSUPPORTED.has(sqlState(err) ?? '')) this.copyWorks = false;
        else if (!isDataError(err)) throw this.link.failed(err);
      }
    }
    await insertBatch(
      this.insertTarget(client),
      batch.map((event) => this.row(event)),
    );
  }

  /** Called without a signal (by `open`, or directly), the usual connection deadline applies. */
  async close(signal: AbortSignal = AbortSignal.timeout(CONNECTION_CLOSE_MS)): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // Every deliver waits for its statement, so nothing is buffered here; a connection that
    // does not end by the deadline is left to the server's timeout.
    await Promise.race([client.end().catch(() => {}), whenAborted(signal)]);
  }

  private row(event: TrackedEvent): unknown[] {
    return this.mapping.sources.map((source, i) => encode(valueAt(event, source), this.columnTypes[i]!));
  }

  /** The INSERT path (batchInsert.ts) on this connection: after a refused COPY, or for a table COPY cannot write. */
  private insertTarget(client: pg.Client): InsertTarget {
    return {
      dialect: postgres,
      table: this.config.table,
      mapping: this.mapping,
      run: async (sql, values) => {
        await client.query(sql, values);
      },
      isDataError,
      rowReason,
      errorType: (err) => classifyPgError(err, this.where).errorType,
      failed: (err) => this.link.failed(err),
    };
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
      throw noTable(at, this.config.table);
    }
    const types = new Map(result.rows.map((r) => [r.name, r.type ?? '']));
    requireMappedColumns(at, this.config.table, this.mapping, types);
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
      throw noUniqueId(at, this.config.table, this.mapping);
    }
    return this.mapping.columns.map((c) => types.get(c)!.replace(/\(.*$/, ''));
  }
}
