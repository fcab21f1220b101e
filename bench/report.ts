/** Result shapes shared by the scenarios, the console table, and the docs/performance.md section. */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MachineInfo } from './machine.js';
import type { RssPeak } from './rss.js';

export interface Row {
  scenario: string;
  subject: string;
  throughput: string;
  p50: string;
  p99: string;
  notes: string;
}

export interface Ratio {
  label: string;
  /** NaN when it could not be measured. */
  value: number;
  /** Shown as "≥ target" (or "≤ target" with `lowerIsBetter`). */
  target?: number;
  /** The target is a ceiling (a latency), not a floor. */
  lowerIsBetter?: boolean;
  /** Absolute figures with a target of their own (e.g. 400k events/s). */
  kind?: 'ratio' | 'absolute';
  unit?: string;
}

export interface ScenarioResult {
  name: string;
  rows: Row[];
  ratios: Ratio[];
  commands: string[];
  notes: string[];
  /** Set when the scenario (or its Beacon half) could not run. */
  error?: string;
}

export function newResult(name: string): ScenarioResult {
  return { name, rows: [], ratios: [], commands: [], notes: [] };
}

export const fmt = {
  int: (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—'),
  ms: (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : '—'),
  ratio: (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '—'),
};

export function verdict(r: Ratio): string {
  if (!Number.isFinite(r.value)) return 'not measured';
  if (r.target === undefined) return '';
  if (r.lowerIsBetter) return r.value <= r.target ? 'ok' : 'ABOVE TARGET';
  return r.value >= r.target ? 'ok' : 'BELOW TARGET';
}

function ratioValue(r: Ratio): string {
  if (!Number.isFinite(r.value)) return '—';
  // Small absolute figures (µs per event) keep two decimals: rounded, 0.06 and 0.4 both read 0.
  const value = r.value < 100 ? r.value.toFixed(2) : fmt.int(r.value);
  return r.kind === 'absolute' ? `${value}${r.unit ? ` ${r.unit}` : ''}` : fmt.ratio(r.value);
}

function ratioTarget(r: Ratio): string {
  if (r.target === undefined) return '';
  const bound = r.lowerIsBetter ? '≤' : '≥';
  return r.kind === 'absolute' ? `${bound} ${fmt.int(r.target)}${r.unit ? ` ${r.unit}` : ''}` : `${bound} ${r.target}`;
}

function textTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 2 && i <= 4 ? c.padStart(w[i]!) : c.padEnd(w[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function consoleReport(results: ScenarioResult[], rss: RssPeak | undefined): string {
  const rows = results.flatMap((r) => r.rows.map((x) => [x.scenario, x.subject, x.throughput, x.p50, x.p99, x.notes]));
  const ratios = results.flatMap((r) => r.ratios.map((x) => [x.label, ratioValue(x), ratioTarget(x), verdict(x)]));
  const out = [textTable(['scenario', 'subject', 'throughput', 'p50 ms', 'p99 ms', 'notes'], rows)];
  if (ratios.length) out.push('', textTable(['figure', 'value', 'target', ''], ratios));
  if (rss)
    out.push(
      '',
      `Beacon peak RSS: ${rss.maxTotalRssMiB} MiB total at one instant; ${rss.sumHwmMiB} MiB summed per-process peaks over ${rss.processes} process(es) (largest ${rss.maxProcessHwmMiB} MiB)`,
    );
  const errors = results.filter((r) => r.error);
  if (errors.length) out.push('', ...errors.map((r) => `! ${r.name}: ${r.error}`));
  return out.join('\n');
}

const INTRO = `# Performance

Figures written by \`npm run bench\` (bench/main.ts). Each run appends a dated section below;
earlier sections are kept so trends stay visible.

## Method

- **Same generator, same load.** Every HTTP figure comes from \`wrk\` (Debian's package) with the
  same thread count and the same number of keep-alive connections against Beacon and against a
  reference server, each run bounded in time after an untimed warm-up.
- **A reference in the same invocation.** The reference is Debian's \`nginx\` with a generated
  config (\`worker_processes auto\`, \`access_log\` on, \`return 204\` for the pixel and \`return 200\`
  for \`POST /batch\`), started by the bench next to Beacon, on the same loopback interface, in the
  same minute. For the file sink the reference is a raw copy of the same bytes with an fsync per
  1 MiB chunk.
- **Ratios, not absolute numbers.** The benchmark machine is shared and noisy (2 cores, other
  tenants), so an absolute requests/s figure means little from one day to the next. The
  Beacon/reference ratio measured minutes apart on the same machine is what the targets are set
  on. Absolute figures are recorded for context.
- **What Beacon does that nginx does not:** it parses and validates each event, enriches it,
  and acknowledges only after the event is fsynced to its log; nginx writes an access-log line
  without fsync. A ratio well below 1 is expected.
- **Dispatch** is measured with the sinks paused while the log is pre-filled (the file sink's
  output path is unusable and the http receiver answers 503), then Beacon is restarted with
  them usable and the time until each sink's lag reaches 0 is measured.
- **Peak RSS** is read from \`/proc/<pid>/status\` (VmRSS sampled every 250 ms over Beacon's
  process tree, and VmHWM per process).

Run it: \`npm run bench\` (about 2 minutes), \`npm run bench -- --quick\` (a smoke test, not recorded),
\`npm run bench -- --only pixel --duration 20\`, \`npm run bench -- --help\`.
`;

export function markdownSection(opts: {
  date: Date;
  machine: MachineInfo;
  settings: string;
  results: ScenarioResult[];
  rss: RssPeak | undefined;
  referenceOnly?: boolean;
}): string {
  const { machine: m } = opts;
  const lines: string[] = [];
  lines.push(
    `## ${opts.date.toISOString().replace('T', ' ').slice(0, 16)} UTC${opts.referenceOnly ? ' (reference only, no Beacon)' : ''}`,
    '',
  );
  lines.push(
    `Machine: ${m.nproc} cores (nproc), ${m.cpuModel}, ${m.memGiB} GiB, Linux ${m.kernel}; Node ${m.node}, nginx ${m.nginx}, ${m.wrk}.`,
  );
  lines.push(`Settings: ${opts.settings}.`, '');
  const ratios = opts.results.flatMap((r) => r.ratios);
  if (ratios.length) {
    lines.push('| figure | value | target | |', '| --- | ---: | ---: | --- |');
    for (const r of ratios) lines.push(`| ${r.label} | ${ratioValue(r)} | ${ratioTarget(r)} | ${verdict(r)} |`);
    lines.push('');
  }
  const rows = opts.results.flatMap((r) => r.rows);
  if (rows.length) {
    lines.push(
      '| scenario | subject | throughput | p50 ms | p99 ms | notes |',
      '| --- | --- | ---: | ---: | ---: | --- |',
    );
    for (const x of rows)
      lines.push(
        `| ${x.scenario} | ${x.subject} | ${x.throughput} | ${x.p50} | ${x.p99} | ${x.notes.replace(/\|/g, '\\|')} |`,
      );
    lines.push('');
  }
  if (opts.rss)
    lines.push(
      `Beacon peak RSS: ${opts.rss.maxTotalRssMiB} MiB (sum of VmRSS at one instant); per-process VmHWM summed ${opts.rss.sumHwmMiB} MiB over ${opts.rss.processes} process(es).`,
      '',
    );
  const notes = opts.results.flatMap((r) => [
    ...r.notes.map((n) => `${r.name}: ${n}`),
    ...(r.error ? [`${r.name}: **not measured** — ${r.error}`] : []),
  ]);
  if (notes.length) lines.push(...notes.map((n) => `- ${n.replace(/\n/g, ' ')}`), '');
  const cmds = opts.results.flatMap((r) => r.commands);
  if (cmds.length)
    lines.push(
      'Commands (pixel.lua and batch.lua are generated by bench/wrkScripts.ts; ports are free ones picked per run):',
      '',
      '```',
      ...cmds,
      '```',
      '',
    );
  return lines.join('\n');
}

export function appendSection(docPath: string, section: string): void {
  if (!existsSync(docPath)) {
    mkdirSync(dirname(docPath), { recursive: true });
    writeFileSync(docPath, INTRO);
  }
  appendFileSync(docPath, `\n${section}`);
}
