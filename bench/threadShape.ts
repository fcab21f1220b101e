/**
 * The single process with and without its delivery thread (server.deliveryThread off | on),
 * side by side in one session, for pixel GETs and POST /batch of 20, on all cores or on the
 * cores given with `--cores` (taskset). Runs alternate (off, on, off, on ...) so that a change
 * in the machine's load hits both shapes alike.
 *
 *   node --import tsx bench/threadShape.ts [--cores 0 | 0,1] [--rounds 2] [--duration 8] [--connections 32]
 *
 * Per run: intake rate (2xx events/s over the wrk run) and CPU µs per event of the whole
 * Beacon process, counted from the start of the run until every sink (the file sink and the
 * embedded store) has delivered what was acknowledged, so delivery's CPU is in the figure too.
 * The load generator (wrk) runs outside the Beacon cores when `--cores` leaves one free.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { treeCpuSeconds } from './cpuTime.js';
import { freePort, start, stop, waitForHttp } from './proc.js';
import { batchBody } from './scenarios/batch.js';
import { lagZero, okRequests } from './beaconRun.js';
import { runWrk } from './wrk.js';
import { getCountingScript, postScript } from './wrkScripts.js';

const ROOT = resolve(import.meta.dirname, '..');
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const cores = args.get('cores');
const rounds = Number(args.get('rounds') ?? 2);
const durationSec = Number(args.get('duration') ?? 8);
const connections = Number(args.get('connections') ?? 32);
const BATCH = 20;

interface Run {
  shape: 'off' | 'on';
  scenario: 'pixel' | 'batch';
  eventsPerSec: number;
  cpuUsPerEvent: number;
  p99Ms: number;
  drainSec: number;
}

async function measure(shape: 'off' | 'on', scenario: 'pixel' | 'batch', tmp: string): Promise<Run> {
  const dir = mkdtempSync(join(tmp, `${shape}-${scenario}-`));
  const port = await freePort();
  const configPath = join(dir, 'beacon.yaml');
  writeFileSync(
    configPath,
    `server: { host: 127.0.0.1, port: ${port}, workers: 1, deliveryThread: ${shape} }\ndataDir: ${JSON.stringify(join(dir, 'data'))}\nlogging: { level: warn }\nsinks:\n  - { name: bench-file, type: file, path: ${JSON.stringify(join(dir, 'out.ndjson'))}, codec: json }\n`,
  );
  const node = [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'start', '--config', configPath];
  const proc = cores
    ? start('taskset', ['-c', cores, ...node], { cwd: ROOT })
    : start(node[0]!, node.slice(1), { cwd: ROOT });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/readyz`, proc, 90_000, `Beacon ${shape}`);
    const target = scenario === 'pixel' ? `${url}/t/pageview?k=v` : `${url}/batch`;
    const script = scenario === 'pixel' ? getCountingScript() : postScript('/batch', batchBody(BATCH));
    const base = { url: target, connections, threads: 1, script, scriptDir: dir, scriptName: `${scenario}.lua` };
    await runWrk({ ...base, durationSec: 2 });
    await lagZero(url, 60_000);
    const pid = proc.child.pid!;
    const cpu0 = treeCpuSeconds(pid);
    const r = await runWrk({ ...base, durationSec });
    const drainStart = Date.now();
    const drained = await lagZero(url, 120_000);
    const drainSec = (Date.now() - drainStart) / 1000;
    const cpu = treeCpuSeconds(pid) - cpu0;
    const events = okRequests(r) * (scenario === 'batch' ? BATCH : 1);
    if (!drained) console.error(`  ! ${shape} ${scenario}: sinks did not catch up within 120 s`);
    return {
      shape,
      scenario,
      eventsPerSec: events / r.durationSec,
      cpuUsPerEvent: (cpu * 1e6) / Math.max(1, events),
      p99Ms: r.latency.p99,
      drainSec,
    };
  } finally {
    await stop(proc, 20_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'beacon-thread-shape-'));
mkdirSync(tmp, { recursive: true });
console.log(
  `cores for Beacon: ${cores ?? `all (${availableParallelism()})`}; wrk ${connections} connections, ${durationSec} s runs, ${rounds} rounds; load average at start ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const runs: Run[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    for (const scenario of ['pixel', 'batch'] as const) {
      for (const shape of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        const r = await measure(shape, scenario, tmp);
        runs.push(r);
        console.log(
          `${scenario.padEnd(5)} deliveryThread ${shape.padEnd(3)}: ${Math.round(r.eventsPerSec).toString().padStart(7)} events/s  ${r.cpuUsPerEvent.toFixed(1).padStart(6)} CPU µs/event  p99 ${r.p99Ms.toFixed(1)} ms  sinks caught up ${r.drainSec.toFixed(1)} s after the run`,
        );
      }
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
for (const scenario of ['pixel', 'batch'] as const) {
  const pick = (shape: 'off' | 'on') => runs.filter((r) => r.scenario === scenario && r.shape === shape);
  const off = pick('off');
  const on = pick('on');
  console.log(
    `${scenario}: on/off events/s ${(median(on.map((r) => r.eventsPerSec)) / median(off.map((r) => r.eventsPerSec))).toFixed(2)}, ` +
      `on/off CPU µs/event ${(median(on.map((r) => r.cpuUsPerEvent)) / median(off.map((r) => r.cpuUsPerEvent))).toFixed(2)} (medians)`,
  );
}
console.log(
  `load average at end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
