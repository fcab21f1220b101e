import type pg from 'pg';
import type { Logger } from 'pino';
import type { ReadTarget } from '../replicaSet.js';
import { ReadTimeoutError } from '../readTimeout.js';
import { lazyRequire } from '../../../net/lazyRequire.js';

const pgModule = lazyRequire<typeof pg>('pg');

/** Where one PostgreSQL server is and who to log in as (the password only travels to pg). */
export interface PgServer {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  /** A postgres:// URL when the config gave one: keeps its query options (sslmode...). */
  url: string | undefined;
}

export interface PgTargetOptions {
  role: 'writer' | 'replica';
  poolSize: number;
  queryTimeoutMs: number;
  connectTimeoutMs: number;
  /** Names the store's connections in pg_stat_activity. */
  applicationName: string;
  logger: Logger;
}

/**
 * One PostgreSQL server the store reads from: a pg.Pool and a query with a deadline.
 *
 * The deadline is enforced twice: the server cancels a statement past `statement_timeout`
 * (57014), and a timer of ours destroys the connection when no answer comes at all (a server
 * gone silent behind a dead network), since pg's own query_timeout leaves the connection
 * busy with the lost query. A connection whose query failed for any reason other than the
 * statement itself is destroyed, not returned to the pool.
 */
export class PgTarget implements ReadTarget {
  readonly role: 'writer' | 'replica';
  readonly label: string;
  private readonly pool: pg.Pool;

  constructor(
    server: PgServer,
    private readonly options: PgTargetOptions,
  ) {
    this.role = options.role;
    this.label = `${server.host}:${server.port}/${server.database}`;
    this.pool = new (pgModule().Pool)({
      ...(server.url
        ? { connectionString: server.url }
        : {
            host: server.host,
            port: server.port,
            user: server.user,
            password: server.password,
            database: server.database,
          }),
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.queryTimeoutMs,
      keepAlive: true,
      application_name: options.applicationName.slice(0, 63),
    });
    // An idle connection whose server went away: the pool drops it; the next read reconnects.
    this.pool.on('error', (err) =>
      options.logger.debug({ target: this.label, err: err.message }, 'postgres store: an idle connection closed'),
    );
  }

  async query(sql: string, values: readonly unknown[]): Promise<Record<string, unknown>[]> {
    const client = await this.pool.connect();
    let timer: NodeJS.Timeout | undefined;
    let failure: unknown;
    try {
      const answer = client.query<Record<string, unknown>>({ text: sql, values: values as unknown[] });
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ReadTimeoutError('postgres', this.label, this.options.queryTimeoutMs + 1000)),
          this.options.queryTimeoutMs + 1000,
        );
      });
      answer.catch(() => {}); // a late failure after the deadline has no one to tell
      return (await Promise.race([answer, deadline])).rows;
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      clearTimeout(timer);
      client.release(failure !== undefined && !isStatementError(failure) ? (failure as Error) : undefined);
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1', []);
  }

  async close(): Promise<void> {
    await Promise.race([this.pool.end().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

/** A failure of the statement itself (a SQLSTATE outside connection classes): the connection is still good. */
function isStatementError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57P');
}
