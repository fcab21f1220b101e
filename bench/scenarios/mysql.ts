/**
 * mysql: the mysql sink against the `mariadb` client's `LOAD DATA LOCAL INFILE` of the same
 * rows, on the machine's MariaDB (127.0.0.1:3306, root, no password, database test).
 *
 * - Beacon: the real Dispatcher and MysqlSink (its default column mapping and DDL) draining N
 *   events (bench/sqlSinkBench.ts).
 * - Reference: `mariadb --local-infile=1 ... -e "LOAD DATA LOCAL INFILE '<file>' INTO TABLE ..."`,
 *   the file holding the values the sink sends (its own encoder, for the types the table
 *   reports) in LOAD DATA's default text format. A server that refuses LOCAL INFILE (MySQL 8
 *   ships with local_infile=OFF; the bench never changes a server's settings) gets the same
 *   rows as a dump of multi-row INSERTs (1000 rows each, one transaction) piped to the client
 *   instead, and the notes say so.
 *
 * Both tables are fresh, from the sink's `createTableSql` (InnoDB, VARCHAR(255) primary key,
 * JSON props and meta), named after the run and dropped after. No target: the ratio is for trend.
 *
 * Runs inside `npm run bench -- --only mysql`, or alone:
 *   node --import tsx bench/scenarios/mysql.ts [--events N] [--insert-dump]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { mysqlConfigSchema } from '../../src/sinks/mysql/index.js';
import { createTableSql, encode, quoteIdent, quoteTable } from '../../src/sql/mysql.js';
import { columnMapping } from '../../src/sinks/sqlColumns.js';
import { fmt, type ScenarioResult } from '../report.js';
import { rowValues, textRows } from '../sqlRowFiles.js';
import { measureSqlSink, sqlBenchRows, sqlBenchTimeoutMs, type SqlBenchTarget } from '../sqlSinkBench.js';
import { runTimed } from '../timedCommand.js';

const SERVER = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };
/** Rows per INSERT of the fallback dump, as the sink splits large batches. */
const DUMP_ROWS_PER_INSERT = 1000;

interface Logger {
  log(msg: string): void;
}

const LITERAL_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
};
// Built from the table, so the control characters (NUL, Ctrl-Z) need no regex literal.
const LITERAL_SPECIALS = new RegExp(
  `[${Object.keys(LITERAL_ESCAPES)
    .map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .join('')}]`,
  'g',
);

/** A value as a MariaDB string literal (the escapes mysqldump writes), or NULL. */
function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  const text = value instanceof Date ? value.toISOString().replace('T', ' ').replace('Z', '') : String(value);
  return `'${text.replace(LITERAL_SPECIALS, (c) => LITERAL_ESCAPES[c]!)}'`;
}

const clientArgs = [
  '--local-infile=1',
  '-h',
  SERVER.host,
  '-P',
  String(SERVER.port),
  '-u',
  SERVER.user,
  SERVER.database,
];

/** Whether the client and server let LOAD DATA LOCAL through: a one-row probe into a temporary table. */
async function localInfileWorks(log: (m: string) => void): Promise<{ ok: boolean; why?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-mysql-probe-'));
  const file = join(dir, 'probe.tsv');
  writeFileSync(file, '1\n');
  try {
    await runTimed({
      cmd: 'mariadb',
      args: [
        ...clientArgs,
        '-e',
        `CREATE TEMPORARY TABLE probe (n INT); LOAD DATA LOCAL INFILE '${file}' INTO TABLE probe`,
      ],
      timeoutMs: 30_000,
      log,
      label: 'LOAD DATA LOCAL probe',
    });
    return { ok: true };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mysqlTarget(
  admin: mysql.Connection,
  facts: string,
  mode: { loadData: boolean; why?: string },
): SqlBenchTarget {
  const mapping = columnMapping(undefined);
  const columnList = mapping.columns.map(quoteIdent).join(', ');

  /** DATA_TYPE of each mapped column, as the sink reads it (MariaDB's JSON reads as longtext; the encoder gives both the same text). */
  const columnTypes = async (table: string): Promise<string[]> => {
    const [rows] = await admin.query<mysql.RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
      [table],
    );
    const types = new Map(rows.map((r) => [String(r.name), String(r.type).toLowerCase()]));
    return mapping.columns.map((c) => types.get(c) ?? 'varchar');
  };

  return {
    name: 'mysql',
    sinkWrites:
      'LOAD DATA LOCAL INFILE from a stream, in a transaction; INSERT ... ON DUPLICATE KEY UPDATE id = id on a warning',
    reference: mode.loadData
      ? { subject: 'mariadb client, LOAD DATA LOCAL INFILE', short: 'LOAD DATA LOCAL', format: 'LOAD DATA text' }
      : {
          subject: 'mariadb client, multi-row INSERT dump (instead of LOAD DATA LOCAL)',
          short: 'INSERT dump',
          format: 'SQL dump',
        },
    otherBatches: [5000],
    createTable: async (table) => {
      await admin.query(createTableSql(table, mapping));
    },
    dropTable: async (table) => {
      await admin.query(`DROP TABLE IF EXISTS ${quoteTable(table)}`);
    },
    sinkConfig: (table, maxEvents) =>
      mysqlConfigSchema.parse({
        type: 'mysql',
        name: `bench-mysql-${maxEvents ?? 'default'}`,
        ...SERVER,
        table,
        batch: { ...(maxEvents ? { maxEvents } : {}), maxWaitMs: 0 },
      }),
    writeReferenceFile: async (table, events, file) => {
      const rows = rowValues(events, mapping, await columnTypes(table), encode);
      if (mode.loadData) {
        writeFileSync(file, textRows(rows));
        return;
      }
      let sql = 'START TRANSACTION;\n';
      for (let i = 0; i < rows.length; i += DUMP_ROWS_PER_INSERT) {
        sql += `INSERT INTO ${quoteTable(table)} (${columnList}) VALUES ${rows
          .slice(i, i + DUMP_ROWS_PER_INSERT)
          .map((r) => `(${r.map(sqlLiteral).join(',')})`)
          .join(',\n')};\n`;
      }
      writeFileSync(file, `${sql}COMMIT;\n`);
    },
    referenceCommand: (table, file) => {
      if (!mode.loadData)
        return {
          cmd: 'mariadb',
          args: clientArgs.slice(1),
          stdinFile: file,
          shown: `mariadb ${clientArgs.slice(1).join(' ')} < dump.sql`,
        };
      const load = (path: string) =>
        `LOAD DATA LOCAL INFILE '${path}' INTO TABLE ${quoteTable(table)} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${columnList})`;
      return {
        cmd: 'mariadb',
        args: [...clientArgs, '-e', load(file)],
        shown: `mariadb ${clientArgs.join(' ')} -e "${load('rows.tsv').replaceAll('`', '\\`')}"`,
      };
    },
    check: async (table) => {
      // CONCAT_WS skips NULLs, so each column is marked NULL explicitly; DATETIME(3) and the
      // JSON text compare as MariaDB stored them.
      const fields = mapping.columns.map((c) => `IFNULL(${quoteIdent(c)}, '\\\\N')`).join(', ');
      const [rows] = await admin.query<mysql.RowDataPacket[]>(
        `SELECT COUNT(*) AS n, COUNT(DISTINCT ${quoteIdent(mapping.idColumn)}) AS ids,
                MD5(GROUP_CONCAT(MD5(CONCAT_WS(0x1f, ${fields})) ORDER BY ${quoteIdent(mapping.idColumn)} SEPARATOR '')) AS digest
           FROM ${quoteTable(table)}`,
      );
      const r = rows[0]!;
      return { rows: Number(r.n), ids: Number(r.ids), digest: String(r.digest ?? '') };
    },
    notes: () => [
      facts,
      ...(mode.loadData
        ? []
        : [
            `the reference is the same rows as a multi-row INSERT dump (${DUMP_ROWS_PER_INSERT} rows per INSERT, one transaction) piped to the client, not LOAD DATA LOCAL INFILE: ${mode.why}.`,
          ]),
    ],
  };
}

export async function measureMysql(
  n: number,
  ctx: Logger & { quick?: boolean; insertDump?: boolean },
): Promise<ScenarioResult> {
  const admin = await mysql.createConnection({ ...SERVER, timezone: 'Z', charset: 'utf8mb4' });
  try {
    // 32 hex digits per row of the digest: far past GROUP_CONCAT's 1 MiB default.
    await admin.query('SET SESSION group_concat_max_len = 1073741824');
    const [vars] = await admin.query<mysql.RowDataPacket[]>(
      "SHOW VARIABLES WHERE Variable_name IN ('version', 'local_infile', 'innodb_flush_log_at_trx_commit', 'sync_binlog', 'log_bin')",
    );
    const v = new Map(vars.map((r) => [String(r.Variable_name), String(r.Value)]));
    const client = execFileSync('mariadb', ['--version'], { encoding: 'utf8' })
      .trim()
      .replace(/^mariadb\s+/, '');
    const facts = `MariaDB ${v.get('version')} on ${SERVER.host}:${SERVER.port} (shared, not reconfigured): local_infile=${v.get('local_infile')}, innodb_flush_log_at_trx_commit=${v.get('innodb_flush_log_at_trx_commit')}, log_bin=${v.get('log_bin')}; client mariadb ${client}.`;
    let mode: { loadData: boolean; why?: string } = {
      loadData: !ctx.insertDump,
      ...(ctx.insertDump ? { why: 'asked for with --insert-dump' } : {}),
    };
    if (mode.loadData) {
      const probe = await localInfileWorks((m) => ctx.log(m));
      if (!probe.ok) {
        ctx.log(`mysql: LOAD DATA LOCAL INFILE refused (${probe.why}); the reference falls back to an INSERT dump`);
        mode = { loadData: false, why: `refused here (${probe.why ?? 'no reason given'})` };
      }
    }
    return await measureSqlSink(mysqlTarget(admin, facts, mode), {
      n,
      timeoutMs: sqlBenchTimeoutMs(ctx.quick ?? false),
      log: (m) => ctx.log(m),
    });
  } finally {
    await admin.end();
  }
}

/** The bench runner's entry: `npm run bench -- --only mysql`. */
export function mysqlScenario(ctx: Logger & { opts: { quick: boolean } }): Promise<ScenarioResult> {
  return measureMysql(sqlBenchRows(ctx.opts.quick), { log: (m) => ctx.log(m), quick: ctx.opts.quick });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--events');
  const n = at > 0 ? Number(process.argv[at + 1]) : sqlBenchRows(false);
  const result = await measureMysql(n, {
    log: (m) => console.log(m),
    insertDump: process.argv.includes('--insert-dump'),
  });
  for (const row of result.rows) console.log(`${row.subject}: ${row.throughput} (${row.notes})`);
  for (const ratio of result.ratios)
    console.log(`${ratio.label}: ${ratio.kind === 'absolute' ? fmt.int(ratio.value) : fmt.ratio(ratio.value)}`);
  for (const note of result.notes) console.log(note);
}
