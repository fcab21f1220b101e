import type mysql from 'mysql2/promise';
import type { ReadTarget } from '../replicaSet.js';
import { ReadTimeoutError } from '../readTimeout.js';
import { lazyRequire } from '../../../net/lazyRequire.js';

const mysql2 = lazyRequire<typeof mysql>('mysql2/promise');

/** Where one MySQL / MariaDB server is and who to log in as. */
export interface MysqlServer {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface MysqlTargetOptions {
  role: 'writer' | 'replica';
  poolSize: number;
  queryTimeoutMs: number;
  connectTimeoutMs: number;
  /** Names the store's connections (performance_schema.session_connect_attrs on MySQL). */
  programName: string;
}

/**
 * One MySQL or MariaDB server the store reads from: a mysql2 pool and a query with a
 * deadline. Each connection is switched to UTC once (`time_zone '+00:00'`), as the sink's
 * are, so TIMESTAMP columns and the time bounds mean the same instant.
 *
 * The deadline is a timer of ours covering the wait for a connection and the query: mysql2's
 * pool waits for a free connection without limit, and past the deadline the connection is
 * destroyed, not returned, so a lost query cannot block the next one.
 */
export class MysqlTarget implements ReadTarget {
  readonly role: 'writer' | 'replica';
  readonly label: string;
  private readonly pool: mysql.Pool;
  /** Connections already switched to UTC (the pool reuses them). */
  private readonly prepared = new WeakSet<object>();

  constructor(
    server: MysqlServer,
    private readonly options: MysqlTargetOptions,
  ) {
    this.role = options.role;
    this.label = `${server.host}:${server.port}/${server.database}`;
    this.pool = mysql2().createPool({
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      ...(server.database ? { database: server.database } : {}),
      connectionLimit: options.poolSize,
      maxIdle: options.poolSize,
      idleTimeout: 30_000,
      connectTimeout: options.connectTimeoutMs,
      timezone: 'Z',
      charset: 'utf8mb4',
      enableKeepAlive: true,
      supportBigNumbers: true,
      connectAttributes: { program_name: options.programName },
    });
  }

  async query(sql: string, values: readonly unknown[]): Promise<Record<string, unknown>[]> {
    let connection: mysql.PoolConnection | undefined;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        connection?.destroy();
        reject(new ReadTimeoutError('mysql', this.label, this.options.queryTimeoutMs));
      }, this.options.queryTimeoutMs);
    });
    const work = (async () => {
      const acquired = await this.pool.getConnection();
      if (timedOut) {
        // The deadline passed while waiting for this connection: it never ran our query, so it goes back.
        acquired.release();
        throw new ReadTimeoutError('mysql', this.label, this.options.queryTimeoutMs);
      }
      connection = acquired;
      try {
        if (!this.prepared.has(acquired.connection)) {
          await acquired.query("SET time_zone = '+00:00'");
          this.prepared.add(acquired.connection);
        }
        const [rows] = await acquired.query<mysql.RowDataPacket[]>({ sql, values: values as unknown[] });
        acquired.release();
        return rows as Record<string, unknown>[];
      } catch (err) {
        if (isStatementError(err)) acquired.release();
        else acquired.destroy();
        throw err;
      }
    })();
    work.catch(() => {}); // a failure after the deadline has no one to tell
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1', []);
  }

  async close(): Promise<void> {
    await Promise.race([this.pool.end().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

/** An error the server answered (it carries a SQLSTATE) that did not end the session: the connection is still good. */
function isStatementError(err: unknown): boolean {
  const e = err as { sqlState?: unknown; fatal?: unknown } | undefined;
  return typeof e?.sqlState === 'string' && e.fatal !== true;
}
