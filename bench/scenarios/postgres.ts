/**
 * postgres: the postgres sink against `psql \copy` loading the same rows, on the machine's
 * PostgreSQL (127.0.0.1:5432, user postgres, database test, trust auth).
 *
 * - Beacon: the real Dispatcher and PostgresSink (its default column mapping and DDL)
 *   draining N events (bench/sqlSinkBench.ts).
 * - Reference: `psql -c "\copy <table> (<columns>) FROM '<file>' WITH (FORMAT text)"`, the file
 *   holding the values the sink sends (its own encoder, for the types the table reports).
 *
 * Both tables are fresh, from the sink's `createTableSql` (id text PRIMARY KEY, jsonb props
 * and meta), named after the run and dropped after. Goal: the sink at ≥ 0.8x the \copy rows/s.
 *
 * Runs inside `npm run bench -- --only postgres`, or alone:
 *   node --import tsx bench/scenarios/postgres.ts [--events N]
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { postgresConfigSchema } from '../../src/sinks/postgres/index.js';
import { createTableSql, encode, quoteIdent, quoteTable } from '../../src/sql/postgres.js';
import { columnMapping } from '../../src/sinks/sqlColumns.js';
import { fmt, type ScenarioResult } from '../report.js';
import { rowValues, textRows } from '../sqlRowFiles.js';
import { measureSqlSink, sqlBenchRows, sqlBenchTimeoutMs, type SqlBenchTarget } from '../sqlSinkBench.js';

export const POSTGRES_TARGET_RATIO = 0.8;
const SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

interface Logger {
  log(msg: string): void;
}

function postgresTarget(admin: pg.Client, serverFacts: string): SqlBenchTarget {
  const mapping = columnMapping(undefined);
  const columnList = mapping.columns.map(quoteIdent).join(', ');

  /** The type of each mapped column as the sink reads it (format_type, without a modifier). */
  const columnTypes = async (table: string): Promise<string[]> => {
    const r = await admin.query<{ name: string; type: string }>(
      'SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped',
      [quoteTable(table)],
    );
    const types = new Map(r.rows.map((x) => [x.name, x.type.replace(/\(.*$/, '')]));
    return mapping.columns.map((c) => types.get(c) ?? 'text');
  };

  return {
    name: 'postgres',
    sinkWrites: 'COPY; INSERT ... ON CONFLICT (id) DO NOTHING on a duplicate id',
    reference: { subject: 'psql \\copy (COPY FROM, FORMAT text)', short: 'psql \\copy', format: 'COPY text' },
    otherBatches: [2000, 5000],
    target: POSTGRES_TARGET_RATIO,
    createTable: async (table) => {
      await admin.query(createTableSql(table, mapping));
    },
    dropTable: async (table) => {
      await admin.query(`DROP TABLE IF EXISTS ${quoteTable(table)}`);
    },
    sinkConfig: (table, maxEvents) =>
      postgresConfigSchema.parse({
        type: 'postgres',
        name: `bench-postgres-${maxEvents ?? 'default'}`,
        ...SERVER,
        table,
        batch: { ...(maxEvents ? { maxEvents } : {}), maxWaitMs: 0 },
      }),
    writeReferenceFile: async (table, events, file) => {
      writeFileSync(file, textRows(rowValues(events, mapping, await columnTypes(table), encode)));
    },
    referenceCommand: (table, file) => {
      const copy = (path: string) => `\\copy ${quoteTable(table)} (${columnList}) FROM '${path}' WITH (FORMAT text)`;
      const connect = [
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        SERVER.host,
        '-p',
        String(SERVER.port),
        '-U',
        SERVER.user,
        '-d',
        SERVER.database,
      ];
      return {
        cmd: 'psql',
        args: [...connect, '-c', copy(file)],
        shown: `psql ${connect.join(' ')} -c "${copy('rows.tsv').replaceAll('"', '\\"')}"`,
      };
    },
    check: async (table) => {
      // row(...)::text of the mapped columns, so jsonb and timestamptz compare as PostgreSQL stored them.
      const r = await admin.query<{ rows: number; ids: number; digest: string | null }>(
        `SELECT count(*)::int AS rows, count(DISTINCT ${quoteIdent(mapping.idColumn)})::int AS ids,
                md5(string_agg(md5(row(${columnList})::text), '' ORDER BY ${quoteIdent(mapping.idColumn)})) AS digest
           FROM ${quoteTable(table)}`,
      );
      const x = r.rows[0]!;
      return { rows: x.rows, ids: x.ids, digest: x.digest ?? '' };
    },
    notes: () => [serverFacts],
  };
}

export async function measurePostgres(n: number, ctx: Logger & { quick?: boolean }): Promise<ScenarioResult> {
  const admin = new pg.Client({ ...SERVER, application_name: 'beacon bench' });
  await admin.connect();
  try {
    const settings = await admin.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync', 'wal_level') ORDER BY name",
    );
    const psql = execFileSync('psql', ['--version'], { encoding: 'utf8' }).trim();
    const facts = `PostgreSQL ${settings.rows.map((s) => (s.name === 'server_version' ? s.setting : `${s.name}=${s.setting}`)).join(', ')} on ${SERVER.host}:${SERVER.port} (shared, not reconfigured); ${psql}.`;
    return await measureSqlSink(postgresTarget(admin, facts), {
      n,
      timeoutMs: sqlBenchTimeoutMs(ctx.quick ?? false),
      log: (m) => ctx.log(m),
    });
  } finally {
    await admin.end();
  }
}

/** The bench runner's entry: `npm run bench -- --only postgres`. */
export function postgres(ctx: Logger & { opts: { quick: boolean } }): Promise<ScenarioResult> {
  return measurePostgres(sqlBenchRows(ctx.opts.quick), { log: (m) => ctx.log(m), quick: ctx.opts.quick });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--events');
  const n = at > 0 ? Number(process.argv[at + 1]) : sqlBenchRows(false);
  const result = await measurePostgres(n, { log: (m) => console.log(m) });
  for (const row of result.rows) console.log(`${row.subject}: ${row.throughput} (${row.notes})`);
  for (const ratio of result.ratios)
    console.log(
      `${ratio.label}: ${ratio.kind === 'absolute' ? fmt.int(ratio.value) : fmt.ratio(ratio.value)}${ratio.target ? ` (target ≥ ${ratio.target})` : ''}`,
    );
  for (const note of result.notes) console.log(note);
}
