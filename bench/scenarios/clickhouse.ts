/**
 * clickhouse: the clickhouse sink against `clickhouse-client` inserting the same JSONEachRow
 * rows, on a private ClickHouse server (Debian's 18.16) the scenario starts for the run.
 *
 * - Server: `scripts/ensure-clickhouse.sh --exec DIR HTTP TCP` (installs clickhouse-server and
 *   clickhouse-client when missing) on free ports with its data in a temp dir, as
 *   test/conformance/clickhouse.test.ts does; stopped and removed after. One database per run.
 * - Beacon: the real Dispatcher and ClickHouseSink (its default column mapping, one
 *   `INSERT ... FORMAT JSONEachRow` per batch over HTTP) draining N events
 *   (bench/sqlSinkBench.ts).
 * - Reference: `clickhouse-client --query "INSERT INTO <table> (<columns>) FORMAT JSONEachRow" <
 *   file` over the native protocol, the file holding the rows the sink sends (its own encoder,
 *   for the types the table reports).
 *
 * Both tables are fresh ReplacingMergeTrees from the sink's `createTableSql`. Counts and
 * digests are read with FINAL (what a reader of a ReplacingMergeTree is told to use), so a
 * retried batch that landed twice would still count once. Goal: the sink at ≥ 0.8x the client's rows/s.
 *
 * Runs inside `npm run bench -- --only clickhouse`, or alone:
 *   node --import tsx bench/scenarios/clickhouse.ts [--events N]
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { clickhouseConfigSchema } from '../../src/sinks/clickhouse/index.js';
import { createTableSql, encode, quoteIdent } from '../../src/sql/clickhouse.js';
import { columnMapping } from '../../src/sinks/sqlColumns.js';
import { REPO_ROOT } from '../beacon.js';
import { freePort, httpGet, sleep, start, stop, tail, type Started } from '../proc.js';
import { fmt, type ScenarioResult } from '../report.js';
import { jsonEachRow, rowValues } from '../sqlRowFiles.js';
import { measureSqlSink, sqlBenchRows, sqlBenchTimeoutMs, type SqlBenchTarget } from '../sqlSinkBench.js';

export const CLICKHOUSE_TARGET_RATIO = 0.8;

interface Logger {
  log(msg: string): void;
}

interface Server {
  proc: Started;
  http: number;
  tcp: number;
  dir: string;
}

/** Exit code of ensure-clickhouse.sh when the packages cannot be installed here. */
const CANNOT_INSTALL = 3;

async function startServer(log: (m: string) => void): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-clickhouse-'));
  const [http, tcp] = [await freePort(), await freePort()];
  log(`clickhouse: starting a private server on 127.0.0.1:${http} (tcp ${tcp}), data in ${dir}`);
  const proc = start('sh', ['scripts/ensure-clickhouse.sh', '--exec', dir, String(http), String(tcp)], {
    cwd: REPO_ROOT,
  });
  // The first run installs the packages (about a minute); a started server answers in seconds.
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      const why =
        proc.child.exitCode === CANNOT_INSTALL
          ? 'clickhouse-server cannot be installed here'
          : `scripts/ensure-clickhouse.sh exited (${proc.child.exitCode ?? proc.child.signalCode})`;
      throw new Error(`${why}:\n${tail(proc.stderr())}`);
    }
    const ok = await httpGet(`http://127.0.0.1:${http}/ping`, 1000).then(
      (r) => r.body.trim() === 'Ok.',
      () => false,
    );
    if (ok) return { proc, http, tcp, dir };
    if (Date.now() > deadline) {
      await stop(proc, 5000);
      throw new Error(`ClickHouse did not answer /ping within 10 minutes:\n${tail(proc.stderr())}\n${readLog(dir)}`);
    }
    await sleep(200);
  }
}

function readLog(dir: string): string {
  try {
    return tail(readFileSync(join(dir, 'log', 'clickhouse-server.err.log'), 'utf8'));
  } catch {
    return '';
  }
}

function clickhouseTarget(admin: ClickHouseClient, server: Server, database: string, facts: string): SqlBenchTarget {
  const mapping = columnMapping(undefined);
  const columnList = mapping.columns.map(quoteIdent).join(', ');
  const qualified = (table: string) => `${quoteIdent(database)}.${quoteIdent(table)}`;
  const select = async <T>(query: string) => (await admin.query({ query, format: 'JSONEachRow' })).json<T>();

  /** The type of each mapped column as the sink reads it (system.columns). */
  const columnTypes = async (table: string): Promise<string[]> => {
    const rows = await select<{ name: string; type: string }>(
      `SELECT name, type FROM system.columns WHERE database = '${database}' AND table = '${table}'`,
    );
    const types = new Map(rows.map((r) => [r.name, r.type]));
    return mapping.columns.map((c) => types.get(c) ?? 'String');
  };

  return {
    name: 'clickhouse',
    sinkWrites: 'INSERT ... FORMAT JSONEachRow over HTTP',
    reference: {
      subject: 'clickhouse-client, INSERT ... FORMAT JSONEachRow from a file (native protocol)',
      short: 'clickhouse-client',
      format: 'JSONEachRow',
    },
    otherBatches: [50_000],
    target: CLICKHOUSE_TARGET_RATIO,
    createTable: async (table) => {
      await admin.command({ query: createTableSql({ database, table }, mapping) });
    },
    dropTable: async (table) => {
      await admin.command({ query: `DROP TABLE IF EXISTS ${qualified(table)}` });
    },
    sinkConfig: (table, maxEvents) =>
      clickhouseConfigSchema.parse({
        type: 'clickhouse',
        name: `bench-clickhouse-${maxEvents ?? 'default'}`,
        url: `http://127.0.0.1:${server.http}`,
        database,
        table,
        batch: { ...(maxEvents ? { maxEvents } : {}), maxWaitMs: 0 },
      }),
    writeReferenceFile: async (table, events, file) => {
      writeFileSync(file, jsonEachRow(rowValues(events, mapping, await columnTypes(table), encode), mapping));
    },
    referenceCommand: (table, file) => {
      const query = `INSERT INTO ${qualified(table)} (${columnList}) FORMAT JSONEachRow`;
      return {
        cmd: 'clickhouse-client',
        args: ['--host', '127.0.0.1', '--port', String(server.tcp), '--query', query],
        stdinFile: file,
        shown: `clickhouse-client --host 127.0.0.1 --port TCP_PORT --query "${query.replaceAll('`', '\\`').replace(/beacon_bench_\w+/g, (m) => m.replace(/_[0-9a-f]{8}/, '_RUN'))}" < rows.jsonl`,
      };
    },
    check: async (table) => {
      // 18.16 has no hash over a whole row: hash the columns' text, NULL marked; sum is order-free.
      const fields = mapping.columns.map((c) => `ifNull(toString(${quoteIdent(c)}), '\\\\N')`).join(", '\\x1f', ");
      const [r] = await select<{ rows: string; ids: string; digest: string }>(
        `SELECT toString(count()) AS rows, toString(uniqExact(${quoteIdent(mapping.idColumn)})) AS ids, toString(sum(cityHash64(concat(${fields})))) AS digest FROM ${qualified(table)} FINAL`,
      );
      return { rows: Number(r!.rows), ids: Number(r!.ids), digest: r!.digest };
    },
    notes: () => [facts],
  };
}

export async function measureClickhouse(n: number, ctx: Logger & { quick?: boolean }): Promise<ScenarioResult> {
  const log = (m: string) => ctx.log(m);
  const server = await startServer(log);
  const admin = createClient({ url: `http://127.0.0.1:${server.http}`, log: { level: ClickHouseLogLevel.OFF } });
  const database = `beacon_bench_${randomUUID().slice(0, 8)}`;
  try {
    await admin.command({ query: `CREATE DATABASE ${quoteIdent(database)}` });
    const [version] = await (
      await admin.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })
    ).json<{ v: string }>();
    const client = execFileSync('clickhouse-client', ['--version'], { encoding: 'utf8' }).trim();
    const facts = `ClickHouse ${version?.v ?? '?'} (Debian), a private server started for the run (scripts/ensure-clickhouse.sh: default settings, data in a temp dir); ${client}; counts and digests read with FINAL.`;
    return await measureSqlSink(clickhouseTarget(admin, server, database, facts), {
      n,
      timeoutMs: sqlBenchTimeoutMs(ctx.quick ?? false),
      log,
    });
  } finally {
    await admin.command({ query: `DROP DATABASE IF EXISTS ${quoteIdent(database)}` }).catch(() => {});
    await admin.close();
    await stop(server.proc, 10_000);
    rmSync(server.dir, { recursive: true, force: true });
  }
}

/** The bench runner's entry: `npm run bench -- --only clickhouse`. */
export function clickhouse(ctx: Logger & { opts: { quick: boolean } }): Promise<ScenarioResult> {
  return measureClickhouse(sqlBenchRows(ctx.opts.quick), { log: (m) => ctx.log(m), quick: ctx.opts.quick });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--events');
  const n = at > 0 ? Number(process.argv[at + 1]) : sqlBenchRows(false);
  const result = await measureClickhouse(n, { log: (m) => console.log(m) });
  for (const row of result.rows) console.log(`${row.subject}: ${row.throughput} (${row.notes})`);
  for (const ratio of result.ratios)
    console.log(
      `${ratio.label}: ${ratio.kind === 'absolute' ? fmt.int(ratio.value) : fmt.ratio(ratio.value)}${ratio.target ? ` (target ≥ ${ratio.target})` : ''}`,
    );
  for (const note of result.notes) console.log(note);
}
