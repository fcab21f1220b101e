import { z } from 'zod';
import { duration } from '../config/units.js';
import { columnsOption, connectionConflict, tableName } from './sqlColumns.js';

/**
 * The config fields the SQL sinks (postgres, mysql) share: where to connect, which table,
 * how columns map, and timeouts. `url` takes the dialect's scheme; the dialect's own
 * docs line for `table` lives with its sink.
 */
export function sqlSinkFields(url: { pattern: RegExp; expected: string }) {
  return {
    /** A connection URL with the dialect's scheme. Exclusive with host/port/user/password/database. Redacted. */
    url: z.string().regex(url.pattern, url.expected).optional(),
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65_535).optional(),
    user: z.string().min(1).optional(),
    /** Redacted by check-config and the admin API. */
    password: z.string().optional(),
    database: z.string().min(1).optional(),
    /** Table the events go to; names are used as written (quoted). */
    table: tableName(),
    /** Create the table (default layout or the `columns` mapping) at open when it does not exist. */
    createTable: z.boolean().default(false),
    /** `{ <column>: <event field or props.x / meta.x> }`; replaces the default mapping. */
    columns: columnsOption(),
    /** Time to connect and check the table. */
    connectTimeoutMs: duration().default(10_000),
    /**
     * postgres: longest wait for one statement (the client's query_timeout); mysql: for one
     * attempt's statements (the loop's attempt deadline). Past it the connection is dropped
     * and the batch retried.
     */
    queryTimeoutMs: duration().default(30_000),
  };
}

/** Refuses a config that gives both `url` and separate connection fields. */
export function refineSqlConnection(config: Parameters<typeof connectionConflict>[0], ctx: z.RefinementCtx): void {
  const conflict = connectionConflict(config);
  if (conflict) ctx.addIssue({ code: 'custom', path: ['url'], message: conflict });
}

/** The server and table a SQL sink writes to, as its failure messages name them. */
export interface SqlWhere {
  host: string;
  port: number;
  database: string;
  user: string;
  table: string;
}

/** Where a SQL sink connects: from `url` when given, else the separate fields, else the dialect's defaults. */
export function sqlWhere(
  config: {
    url?: string | undefined;
    host?: string | undefined;
    port?: number | undefined;
    user?: string | undefined;
    database?: string | undefined;
    table: string;
  },
  defaults: { port: number; database: string; user: string },
): SqlWhere {
  const url = config.url ? new URL(config.url) : undefined;
  return {
    host: url?.hostname || config.host || 'localhost',
    port: Number(url?.port || config.port || defaults.port),
    database: (url ? decodeURIComponent(url.pathname.slice(1)) : config.database) || defaults.database,
    user: (url ? decodeURIComponent(url.username) : config.user) || defaults.user,
    table: config.table,
  };
}

/** Config keys of the SQL sinks whose values are secrets. */
export const SQL_SECRET_KEYS = ['password', 'url'] as const;
