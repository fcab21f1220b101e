/**
 * What the database scenarios (postgres, mysql, clickhouse) share: a sink and the database's
 * own bulk-load client writing the same N rows into twin tables, each verified afterwards.
 *
 * - Sink: the real Dispatcher and sink draining N events from an in-memory log
 *   (bench/sinkDrain.ts), timed from `dispatcher.start()` (connect and table check included)
 *   until every event is acknowledged, i.e. committed. Once with the sink's default
 *   `batch.maxEvents` (read from its schema), then with each other size the target names.
 * - Reference: the client loading a file of the same rows (bench/sqlRowFiles.ts), timed from
 *   spawn to exit (connect included; writing the file is not timed, as the sink's events are
 *   already in its log).
 * - Each side gets a fresh table from the sink's own DDL (`createTableSql`), named after the
 *   run and dropped after. Afterwards every table must hold exactly N rows and N distinct ids,
 *   and a digest of every mapped column must equal the reference table's: a lost, doubled or
 *   different row fails the scenario, it never becomes a figure.
 *
 * Order: sink (default batch), reference, sink (other batches), so the headline ratio compares
 * two runs made back to back.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrackedEvent } from '../src/event/trackedEvent.js';
import type { BaseSinkConfig } from '../src/sinks/sinkConfig.js';
import { fmt, newResult, type ScenarioResult } from './report.js';
import { benchEvents, drainThroughDispatcher } from './sinkDrain.js';
import { runTimed } from './timedCommand.js';

/** What a table holds after a load: row count, distinct ids, and a digest of every mapped column. */
export interface TableCheck {
  rows: number;
  ids: number;
  digest: string;
}

export interface ReferenceCommand {
  cmd: string;
  args: string[];
  stdinFile?: string;
  /** The command as the docs show it (paths and ports generic). */
  shown: string;
}

/** One database: how to make, fill, load and check its tables. */
export interface SqlBenchTarget {
  /** The scenario name (postgres, mysql, clickhouse). */
  name: string;
  /** How the sink writes, for the rows' subject. */
  sinkWrites: string;
  /** The reference, for the rows' subject and the ratio's label. */
  reference: { subject: string; short: string; format: string };
  /** Other `batch.maxEvents` tried after the sink's default. */
  otherBatches: readonly number[];
  /** Goal for sink/reference at the default batch size, when the issue sets one. */
  target?: number;
  createTable(table: string): Promise<void>;
  dropTable(table: string): Promise<void>;
  /** The sink's config (parsed by its schema): its default batch size unless `maxEvents` is given. */
  sinkConfig(table: string, maxEvents?: number): BaseSinkConfig & Record<string, unknown>;
  /** Writes the reference rows for `table` (the column types it reports) to `file`. */
  writeReferenceFile(table: string, events: readonly TrackedEvent[], file: string): Promise<void>;
  referenceCommand(table: string, file: string): ReferenceCommand | Promise<ReferenceCommand>;
  check(table: string): Promise<TableCheck>;
  /** Facts for the notes: server version, settings that matter, a fallback taken. */
  notes(): string[];
}

export interface SqlBenchRun {
  n: number;
  timeoutMs: number;
  log: (msg: string) => void;
}

interface Measured {
  label: string;
  batch?: number;
  seconds: number;
  errors: number;
  check: TableCheck;
}

function verify(m: Measured, n: number, expected: TableCheck | undefined, table: string): void {
  const c = m.check;
  if (c.rows !== n || c.ids !== n)
    throw new Error(
      `${m.label}: table ${table} holds ${c.rows} rows with ${c.ids} distinct ids after the load, expected ${n}: rows were lost or doubled`,
    );
  if (expected && c.digest !== expected.digest)
    throw new Error(
      `${m.label}: table ${table} holds ${n} rows that differ from the reference table's (digest ${c.digest} vs ${expected.digest}): the two sides did not write the same rows`,
    );
}

export async function measureSqlSink(target: SqlBenchTarget, run: SqlBenchRun): Promise<ScenarioResult> {
  const { n, log } = run;
  const res = newResult(target.name);
  const runId = randomUUID().slice(0, 8);
  const dir = mkdtempSync(join(tmpdir(), `beacon-bench-${target.name}-`));
  const created: string[] = [];
  const table = async (label: string) => {
    const name = `beacon_bench_${runId}_${label}`;
    created.push(name);
    await target.createTable(name);
    return name;
  };
  const defaultBatch = target.sinkConfig('default_probe').batch.maxEvents;
  try {
    const events = benchEvents(n, runId);
    const sinkRun = async (batch: number): Promise<Measured & { table: string }> => {
      const t = await table(`sink_${batch}`);
      const label = `${target.name} sink, batch.maxEvents ${batch}`;
      log(`${label}: draining ${fmt.int(n)} events into ${t}`);
      const config = target.sinkConfig(t, batch);
      const drained = await drainThroughDispatcher(config, events, run.timeoutMs, log);
      log(`${label}: ${fmt.int(drained.perSec)} rows/s; checking the table`);
      return { label, batch, seconds: drained.seconds, errors: drained.errors, check: await target.check(t), table: t };
    };

    const first = await sinkRun(defaultBatch);

    const refTable = await table('ref');
    const file = join(dir, `rows.${target.reference.format === 'JSONEachRow' ? 'jsonl' : 'tsv'}`);
    await target.writeReferenceFile(refTable, events, file);
    const fileBytes = statSync(file).size;
    const command = await target.referenceCommand(refTable, file);
    log(
      `reference: ${target.reference.subject}, ${fmt.int(n)} rows (${(fileBytes / 1e6).toFixed(1)} MB) into ${refTable}`,
    );
    const refSeconds = await runTimed({
      cmd: command.cmd,
      args: command.args,
      stdinFile: command.stdinFile,
      timeoutMs: run.timeoutMs,
      log,
      label: target.reference.short,
    });
    log(`reference: ${fmt.int(n / refSeconds)} rows/s; checking the table`);
    const ref: Measured = {
      label: target.reference.short,
      seconds: refSeconds,
      errors: 0,
      check: await target.check(refTable),
    };
    verify(ref, n, undefined, refTable);
    verify(first, n, ref.check, first.table);

    const more: Measured[] = [];
    for (const batch of target.otherBatches) {
      const m = await sinkRun(batch);
      verify(m, n, ref.check, m.table);
      more.push(m);
    }

    const refPerSec = n / ref.seconds;
    for (const m of [first, ...more]) {
      const perSec = n / m.seconds;
      res.rows.push({
        scenario: target.name,
        subject: `${target.name} sink (${target.sinkWrites}; batch.maxEvents ${m.batch}${m.batch === defaultBatch ? ', its default' : ''})`,
        throughput: `${fmt.int(perSec)} rows/s`,
        p50: '',
        p99: '',
        notes: `${fmt.int(n)} rows in ${m.seconds.toFixed(2)} s, connect included; table holds ${fmt.int(m.check.rows)}, equal to the reference's${m.errors ? `; ${m.errors} failed attempts retried` : ''}`,
      });
    }
    res.rows.push({
      scenario: target.name,
      subject: target.reference.subject,
      throughput: `${fmt.int(refPerSec)} rows/s`,
      p50: '',
      p99: '',
      notes: `the same rows as ${target.reference.format} (${(fileBytes / 1e6).toFixed(1)} MB); ${fmt.int(n)} in ${ref.seconds.toFixed(2)} s from spawn to exit; table holds ${fmt.int(ref.check.rows)}`,
    });
    res.ratios.push({
      label: `${target.name} sink/${target.reference.short} rows/s (batch ${defaultBatch}, default)`,
      value: n / first.seconds / refPerSec,
      ...(target.target !== undefined ? { target: target.target } : {}),
    });
    for (const m of more)
      res.ratios.push({
        label: `${target.name} sink/${target.reference.short} rows/s (batch ${m.batch})`,
        value: n / m.seconds / refPerSec,
      });
    res.ratios.push({
      label: `${target.name} sink rows/s (batch ${defaultBatch}, default)`,
      value: n / first.seconds,
      kind: 'absolute',
      unit: 'rows/s',
    });
    res.notes.push(
      `sink driven through a real Dispatcher over an in-memory log (maxWaitMs 0), with the sink's default batch.maxEvents ${defaultBatch}, then ${target.otherBatches.join(' and ')}; every table held exactly ${fmt.int(n)} rows and ids, and the same digest of every mapped column as the reference table.`,
      ...target.notes(),
    );
    res.commands.push(command.shown.replaceAll(runId, 'RUN'));
  } finally {
    for (const t of created)
      await target.dropTable(t).catch((e: unknown) => log(`could not drop ${t}: ${(e as Error).message}`));
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

/** Rows per database scenario: about 200k in a full run, 20k with --quick. */
export function sqlBenchRows(quick: boolean): number {
  return quick ? 20_000 : 200_000;
}

/** Time limit of each load (sink or reference). */
export function sqlBenchTimeoutMs(quick: boolean): number {
  return quick ? 120_000 : 600_000;
}
