/**
 * CPU per pixel and per POST /batch event of one Beacon process with every default on (the
 * embedded store, identity cookies, every enrichment step, the file sink of the embedded
 * defaults), for profiling the hot path (docs/performance.md, "Hot path").
 *
 *   node --import tsx bench/hotPath.ts [--entry src/cli/main.ts] [--scenarios pixel,batch]
 *        [--rounds 2] [--duration 6] [--connections 32] [--prof DIR] [--cores 0] [--parts all|intake|store|file]
 *        [--yaml 'enrich: { identity: { mode: off } }'] [--server 'heapGrowthPercent: 0']
 *
 * Per run: 2xx events/s, and the Beacon process's CPU µs per event twice: during the wrk run
 * only (intake, plus the delivery that kept up meanwhile), and from the start of the run until
 * every sink (file and `_store`) delivered what was acknowledged (everything one event costs).
 * `--entry` runs another checkout's CLI (a `.ts` entry through tsx) for before/after runs in one
 * session; `--prof DIR` starts Beacon with `node --cpu-prof` and writes its profiles there
 * (summarise them with bench/profileTop.ts). On a shared machine CPU per event is the steadier
 * figure; events/s swings with the neighbours' load.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { treeCpuSeconds } from './cpuTime.js';
import { freePort, start, stop, waitForHttp } from './proc.js';
import { batchBody } from './scenarios/batch.js';
import { PIXEL_PATH } from './scenarios/pixel.js';
import { lagZero, okRequests } from './beaconRun.js';
import { runWrk } from './wrk.js';
import { getCountingScript, postScript } from './wrkScripts.js';

const ROOT = resolve(import.meta.dirname, '..');
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const entry = resolve(args.get('entry') ?? join(ROOT, 'src/cli/main.ts'));
const scenarios = (args.get('scenarios') ?? 'pixel,batch').split(',') as Array<'pixel' | 'batch'>;
const rounds = Number(args.get('rounds') ?? 2);
const durationSec = Number(args.get('duration') ?? 6);
const connections = Number(args.get('connections') ?? 32);
const profDir = args.has('prof') ? resolve(args.get('prof')!) : undefined;
const cores = args.get('cores');
/**
 * `--parts intake`: no sinks and `store.type: none`, so the figure is the request path and the
 * log append alone; `store` (the embedded store, no file sink), `file` (the file sink, no store);
 * default `all`.
 */
const parts = args.get('parts') ?? 'all';
const withStore = parts === 'all' || parts === 'store';
const withFile = parts === 'all' || parts === 'file';
/** `--yaml '<top-level YAML>'`: added to the config, e.g. `enrich: { identity: { mode: off } }`. */
const extraYaml = args.get('yaml');
/** `--server 'heapGrowthPercent: 0'`: added to the `server:` block. */
const extraServer = args.get('server');
const BATCH = 20;

interface Run {
  scenario: 'pixel' | 'batch';
  eventsPerSec: number;
  /** CPU µs per event while wrk ran. */
  runUs: number;
  /** CPU µs per event until the sinks caught up. */
  totalUs: number;
  p99Ms: number;
  /** The measured run's seconds after spawn, for bench/profileTop.ts. */
  window: string;
}

async function measure(scenario: 'pixel' | 'batch', tmp: string): Promise<Run> {
  const dir = mkdtempSync(join(tmp, `${scenario}-`));
  const port = await freePort();
  const configPath = join(dir, 'beacon.yaml');
  writeFileSync(
    configPath,
    `server: { host: 127.0.0.1, port: ${port}${extraServer ? `, ${extraServer}` : ''} }\ndataDir: ${JSON.stringify(join(dir, 'data'))}\nlogging: { level: warn }\n` +
      (withStore ? '' : 'store: { type: none }\n') +
      (extraYaml === undefined ? '' : `${extraYaml}\n`) +
      (withFile
        ? `sinks:\n  - { name: archive, type: file, path: ${JSON.stringify(join(dir, 'data/out/events.ndjson'))}, codec: json }\n`
        : 'sinks: []\n'),
  );
  const node = [
    process.execPath,
    ...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
    ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []),
    entry,
    'start',
    '--config',
    configPath,
  ];
  const proc = cores
    ? start('taskset', ['-c', cores, ...node], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'production' } })
    : start(node[0]!, node.slice(1), { cwd: ROOT, env: { ...process.env, NODE_ENV: 'production' } });
  const url = `http://127.0.0.1:${port}`;
  const spawned = performance.now();
  try {
    await waitForHttp(`${url}/readyz`, proc, 90_000, 'Beacon');
    const target = scenario === 'pixel' ? url + PIXEL_PATH : `${url}/batch`;
    const script = scenario === 'pixel' ? getCountingScript() : postScript('/batch', batchBody(BATCH));
    const base = { url: target, connections, threads: 1, script, scriptDir: dir, scriptName: `${scenario}.lua` };
    await runWrk({ ...base, durationSec: 2 });
    await lagZero(url, 60_000);
    const pid = proc.child.pid!;
    const cpu0 = treeCpuSeconds(pid);
    const window = `profile CPU.*.${pid}.0.*: --from ${((performance.now() - spawned) / 1000).toFixed(1)}`;
    const r = await runWrk({ ...base, durationSec });
    const cpuRun = treeCpuSeconds(pid) - cpu0;
    const runEnd = performance.now();
    if (!(await lagZero(url, 120_000))) console.error(`  ! ${scenario}: sinks did not catch up within 120 s`);
    const cpu = treeCpuSeconds(pid) - cpu0;
    const events = okRequests(r) * (scenario === 'batch' ? BATCH : 1);
    return {
      scenario,
      eventsPerSec: events / r.durationSec,
      runUs: (cpuRun * 1e6) / Math.max(1, events),
      totalUs: (cpu * 1e6) / Math.max(1, events),
      p99Ms: r.latency.p99,
      window: `${window} --to ${((runEnd - spawned) / 1000).toFixed(1)}`,
    };
  } finally {
    await stop(proc, 20_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'beacon-hot-path-'));
if (profDir) mkdirSync(profDir, { recursive: true });
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(
  `entry ${entry}; parts ${parts}; wrk -c${connections}, ${durationSec} s runs, ${rounds} rounds; load average ${load()}`,
);
try {
  for (let round = 0; round < rounds; round++) {
    for (const scenario of scenarios) {
      const r = await measure(scenario, tmp);
      console.log(
        `${scenario.padEnd(5)}: ${Math.round(r.eventsPerSec).toString().padStart(7)} events/s  CPU µs/event ${r.runUs.toFixed(1).padStart(6)} during the run, ${r.totalUs.toFixed(1).padStart(6)} until delivered  p99 ${r.p99Ms.toFixed(1)} ms${profDir ? `  (${r.window})` : ''}`,
      );
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`load average at end ${load()}`);
