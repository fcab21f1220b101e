import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { BeaconError, isBeaconError } from '../../errors/beaconError.js';
import { SchemaSet } from '../../schemas/schemaSet.js';
import {
  topReasons,
  validateFile,
  UNREADABLE,
  type Progress,
  type ValidationReport,
} from '../../schemas/validateFile.js';
import { formatBytes } from '../../ops/byteUnits.js';
import { formatCount, renderTable } from '../table.js';

/** Reasons shown per type in the summary table. */
const TOP_REASONS = 3;

interface ValidateOpts {
  config?: string;
  show: string;
  progressInterval: string;
  json?: boolean;
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check a file of NDJSON events against the configured schemas (a dry run: nothing is sent)')
    .argument(
      '<file>',
      'NDJSON events: the json codec\'s lines or /batch elements, one per line ("-" reads standard input)',
    )
    .option('-c, --config <path|url>', 'config whose schemas (and server.limits) to check against')
    .option('--show <n>', 'print the first N invalid events with their reasons', '0')
    .option('--progress-interval <ms>', 'print progress on standard error this often (0: never)', '2000')
    .option('--json', 'print the summary as JSON instead of a table')
    .addHelpText(
      'after',
      '\nExit status: 0 when every event is valid, 1 when any is not, 2 when the check could not run.\n\nExamples:\n  beacon validate --config beacon.yaml data/out/events.ndjson\n  beacon validate --config beacon.yaml --show 5 export.ndjson',
    )
    .action(async (file: string, opts: ValidateOpts) => {
      try {
        process.exitCode = await run(file, opts);
      } catch (err) {
        // 2, not 1: a script can tell "the events are invalid" from "the check did not run".
        if (isBeaconError(err)) console.error(`error ${err.code}: ${err.message}\n  what to do: ${err.hint}`);
        else console.error(`error: ${(err as Error).message}`);
        process.exitCode = 2;
      }
    });
}

function count(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${option} takes a whole number, got "${value}"`);
  return n;
}

async function run(file: string, opts: ValidateOpts): Promise<number> {
  const show = count(opts.show, '--show');
  const progressEveryMs = count(opts.progressInterval, '--progress-interval');
  const { config } = await loadConfig({ source: opts.config });
  const schemas = SchemaSet.load(config.schemas);
  if (schemas.empty) {
    throw new BeaconError(
      'BEACON_E_CONFIG_FIELD',
      `no schemas are configured in ${opts.config ?? 'the embedded defaults (pass --config)'}; set schemas.dir or schemas.types`,
      { field: 'schemas' },
    );
  }
  const tty = process.stderr.isTTY === true;
  let printed = false;
  const onProgress = (p: Progress) => {
    const share = p.totalBytes
      ? `, ${formatBytes(p.bytesRead)} of ${formatBytes(p.totalBytes)} (${Math.floor((p.bytesRead / p.totalBytes) * 100)}%)`
      : `, ${formatBytes(p.bytesRead)}`;
    const line = `validating: ${formatCount(p.events)} events${share}`;
    process.stderr.write(tty ? `\r${line}` : `${line}\n`);
    printed = true;
  };
  let report: ValidationReport;
  try {
    report = await validateFile(file, {
      schemas,
      limits: config.server.limits,
      keepInvalid: show,
      onProgress,
      progressEveryMs,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new Error(`cannot read ${file} (${code})`);
    throw err;
  }
  if (printed && tty) process.stderr.write('\n');

  if (opts.json) {
    console.log(JSON.stringify(toJson(report), null, 2));
  } else {
    for (const bad of report.firstInvalid) {
      console.log(`line ${bad.line} (${bad.type}): ${bad.text}`);
      for (const reason of bad.reasons) console.log(`  - ${reason}`);
    }
    if (report.firstInvalid.length > 0) console.log('');
    console.log(summaryTable(report));
    console.log(
      `\n${formatCount(report.events)} events: ${formatCount(report.valid)} valid, ${formatCount(report.invalid)} invalid`,
    );
  }
  return report.invalid > 0 ? 1 : 0;
}

function summaryTable(report: ValidationReport): string {
  const rows = report.byType.map((t) => [
    t.type,
    t.type === UNREADABLE ? '-' : t.hasSchema ? 'yes' : 'none',
    formatCount(t.valid + t.invalid),
    formatCount(t.valid),
    formatCount(t.invalid),
    topReasons(t, TOP_REASONS)
      .map(([reason, n]) => `${reason} (${formatCount(n)})`)
      .join('; '),
  ]);
  rows.push(['total', '', formatCount(report.events), formatCount(report.valid), formatCount(report.invalid), '']);
  return renderTable(['type', 'schema', 'events', 'valid', 'invalid', 'top reasons'], rows);
}

function toJson(report: ValidationReport) {
  return {
    events: report.events,
    valid: report.valid,
    invalid: report.invalid,
    types: report.byType.map((t) => ({
      type: t.type,
      schema: t.hasSchema,
      valid: t.valid,
      invalid: t.invalid,
      topReasons: topReasons(t, TOP_REASONS).map(([reason, count]) => ({ reason, count })),
    })),
    firstInvalid: report.firstInvalid,
  };
}
