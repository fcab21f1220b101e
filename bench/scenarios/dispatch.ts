/**
 * dispatch: how fast each sink drains a backlog. Beacon runs with a file sink and an http sink
 * (pointed at bench/receiver.ts, its own process). While the log is pre-filled with N events
 * both sinks are kept from delivering (the file sink's directory is a regular file, the receiver
 * answers 503); Beacon is then stopped, both destinations are made usable, Beacon is restarted
 * on the same data dir, and the time from /readyz until each sink's lag is 0 gives events/s.
 * Reference for the file sink: the same bytes copied with an fsync per 1 MiB (bench/rawCopy.ts).
 * `BENCH_HTTP_IN_FLIGHT` sets the http sink's `batch.inFlight` (its default otherwise);
 * `RECEIVER_DELAY_MS` makes the receiver answer each batch that late (bench/receiver.ts).
 */
import {
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  closeSync,
  rmSync,
  writeFileSync,
  createWriteStream,
} from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import {
  BeaconUnavailable,
  REPO_ROOT,
  checkBeaconPresent,
  startBeacon,
  type BeaconServer,
  type SinkSpec,
} from '../beacon.js';
import type { BenchContext } from '../context.js';
import { fill } from '../fill.js';
import { httpGet, sleep, start, stop, tail, type Started } from '../proc.js';
import { rawCopy } from '../rawCopy.js';
import { fmt, newResult, type ScenarioResult } from '../report.js';
import { readProgress, type Progress } from '../sinkProgress.js';

export const FILE_SINK_TARGET_EVENTS_PER_SEC = 300_000;
const FILE_SINK = 'bench-file';
const HTTP_SINK = 'bench-http';

/** The http sink's `batch.inFlight` from BENCH_HTTP_IN_FLIGHT, when set (its default otherwise). */
function httpInFlight(): { batch?: { inFlight: number } } {
  const raw = process.env.BENCH_HTTP_IN_FLIGHT;
  return raw ? { batch: { inFlight: Number(raw) } } : {};
}

/** Counts '\n' in a file without loading it whole. */
function countLines(path: string): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  let n = 0;
  try {
    for (;;) {
      const r = readSync(fd, buf, 0, buf.length, null);
      if (r === 0) break;
      for (let i = 0; i < r; i++) if (buf[i] === 0x0a) n++;
    }
  } finally {
    closeSync(fd);
  }
  return n;
}

/** NDJSON shaped like the json codec's output, for the reference when Beacon wrote nothing. */
async function syntheticNdjson(path: string, n: number): Promise<void> {
  const out = createWriteStream(path);
  const ts = Date.now();
  for (let i = 0; i < n; i++) {
    const line = `{"id":"0190f5c2-${String(i).padStart(4, '0')}-7000-8000-${String(i).padStart(12, '0')}","type":"pageview","ts":${ts + i},"sessionId":"s-1","ip":"127.0.0.1","ua":"wrk","url":"https://example.com/docs/page-${i % 97}","props":{"k":"v","n":${i % 20}},"meta":{"source":"http"}}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function startReceiver(): Promise<{
  proc: Started;
  url: string;
  control: (what: 'release' | 'hold' | 'stats') => Promise<{ requests: number; events: number; held: boolean }>;
}> {
  const proc = start(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/receiver.ts'), '--hold'], {
    cwd: REPO_ROOT,
  });
  const deadline = Date.now() + 15_000;
  let port = 0;
  while (!port) {
    const m = /RECEIVER_PORT (\d+)/.exec(proc.stdout());
    if (m) port = Number(m[1]);
    else if (proc.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`bench receiver did not start:\n${tail(proc.stderr())}`);
    else await sleep(50);
  }
  const url = `http://127.0.0.1:${port}`;
  const control = async (what: 'release' | 'hold' | 'stats') =>
    JSON.parse((await httpGet(`${url}/_bench/${what}`)).body) as { requests: number; events: number; held: boolean };
  return { proc, url, control };
}

interface Drain {
  remaining: number;
  seconds: number;
  done: boolean;
}

/** Polls until every sink's backlog is gone (or `timeoutMs`); per sink, the time its lag hit 0. */
async function measureDrain(
  ctx: BenchContext,
  b: BeaconServer,
  remaining: Map<string, number>,
  tReady: number,
  timeoutMs: number,
): Promise<Map<string, Drain>> {
  const result = new Map<string, Drain>();
  const deadline = tReady + timeoutMs;
  let lastLog = Date.now();
  let last: Progress = new Map();
  while (result.size < remaining.size && performance.now() < deadline) {
    try {
      last = await readProgress(b.url);
    } catch {
      /* momentarily busy; try again */
    }
    const now = performance.now();
    for (const [name, rem] of remaining) {
      if (result.has(name)) continue;
      const s = last.get(name);
      if (!s) continue;
      const drained = Number.isFinite(s.lag) ? s.lag <= 0 : s.delivered >= rem;
      if (drained) {
        result.set(name, { remaining: rem, seconds: (now - tReady) / 1000, done: true });
        ctx.log(`dispatch: ${name} drained ${fmt.int(rem)} events in ${((now - tReady) / 1000).toFixed(2)} s`);
      }
    }
    if (Date.now() - lastLog > 3000) {
      lastLog = Date.now();
      ctx.log(
        `dispatch: draining… ${[...last].map(([n, s]) => `${n} lag ${fmt.int(s.lag)} delivered ${fmt.int(s.delivered)}`).join(', ')}`,
      );
    }
    await sleep(50);
  }
  for (const [name, rem] of remaining) {
    if (result.has(name)) continue;
    const s = last.get(name);
    const delivered = s ? (Number.isFinite(s.lag) ? rem - s.lag : s.delivered) : 0;
    result.set(name, { remaining: delivered, seconds: (performance.now() - tReady) / 1000, done: false });
  }
  return result;
}

export async function dispatch(ctx: BenchContext): Promise<ScenarioResult> {
  const res = newResult('dispatch');
  const N = ctx.opts.dispatchEvents;
  const dir = join(ctx.tmp, 'dispatch');
  mkdirSync(dir, { recursive: true });

  const reference = (ndjson: string, what: string) => {
    const lines = countLines(ndjson);
    ctx.log(`dispatch: reference — copying ${what} (${fmt.int(lines)} lines) with fsync per 1 MiB`);
    const c = rawCopy(ndjson, join(dir, 'copy.ndjson'));
    const evps = lines / c.seconds;
    res.rows.push({
      scenario: 'dispatch',
      subject: 'raw copy + fsync/MiB',
      throughput: `${fmt.int(evps)} ev/s`,
      p50: '',
      p99: '',
      notes: `${(c.bytesPerSec / 1e6).toFixed(0)} MB/s, ${(c.bytes / 1e6).toFixed(1)} MB of ${what}`,
    });
    return evps;
  };

  let missing: string | undefined;
  try {
    if (!ctx.opts.referenceOnly) checkBeaconPresent();
  } catch (e) {
    missing = (e as Error).message;
  }
  if (ctx.opts.referenceOnly || missing) {
    const synth = join(dir, 'synthetic.ndjson');
    ctx.log(`dispatch: writing ${fmt.int(N)} synthetic events for the reference`);
    await syntheticNdjson(synth, N);
    reference(synth, 'synthetic NDJSON');
    res.ratios.push({ label: 'dispatch file sink/raw copy events/s', value: NaN });
    res.ratios.push({
      label: 'dispatch file sink events/s',
      value: NaN,
      kind: 'absolute',
      unit: 'ev/s',
      target: FILE_SINK_TARGET_EVENTS_PER_SEC,
    });
    if (missing) res.error = missing;
    else res.notes.push('reference only (--reference-only)');
    return res;
  }

  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  let beacon: BeaconServer | undefined;
  try {
    receiver = await startReceiver();
    ctx.log(`dispatch: http receiver on ${receiver.url} (answering 503 while the log fills)`);
    const outDir = join(dir, 'sink-out');
    const outFile = join(outDir, 'out.ndjson');
    const sinks: SinkSpec[] = [
      { name: FILE_SINK, type: 'file', path: outFile, codec: 'json' },
      { name: HTTP_SINK, type: 'http', url: `${receiver.url}/ingest`, codec: 'json', ...httpInFlight() },
    ];
    const extraYaml = 'dispatch: { initialBackoff: 50ms, maxFailoverDuration: 500ms }';

    // Phase 1: fill with both destinations unusable.
    writeFileSync(
      outDir,
      'a regular file where the file sink wants a directory: keeps it from delivering during the fill\n',
    );
    let blocked = true;
    try {
      beacon = await startBeacon({ dir, sinks, extraYaml });
    } catch (e) {
      ctx.log(
        `dispatch: Beacon would not start with the file sink's directory blocked (${(e as Error).message.split('\n')[0]}); filling with it usable instead`,
      );
      rmSync(outDir, { force: true });
      mkdirSync(outDir, { recursive: true });
      blocked = false;
      beacon = await startBeacon({ dir, sinks, extraYaml });
    }
    const port = beacon.port;
    ctx.log(`dispatch: Beacon up on ${beacon.url}; filling the log with ${fmt.int(N)} events (POST /batch × 500)`);
    const f = await fill(beacon.url, N, { onProgress: (n) => ctx.log(`dispatch: filled ${fmt.int(n)}`) });
    ctx.log(
      `dispatch: filled ${fmt.int(f.events)} events in ${f.seconds.toFixed(1)} s (${fmt.int(f.eventsPerSec)} ev/s)${f.retried503 ? `, ${f.retried503} × 503 retried` : ''}`,
    );
    await sleep(300);
    const afterFill = await readProgress(beacon.url);
    for (const name of [FILE_SINK, HTTP_SINK])
      if (!afterFill.has(name))
        throw new Error(
          `Beacon reports no sink named "${name}" (status/metrics show: ${[...afterFill.keys()].join(', ') || 'none'})`,
        );
    ctx.rssPeaks.push(await beacon.stop());
    beacon = undefined;

    // Phase 2: make both usable, restart on the same data dir and port, time the drain.
    if (blocked) {
      rmSync(outDir, { force: true });
      mkdirSync(outDir, { recursive: true });
    }
    await receiver.control('release');
    const remaining = new Map<string, number>();
    const keptUp: string[] = [];
    for (const [name, s] of afterFill) {
      if (name !== FILE_SINK && name !== HTTP_SINK) continue;
      const rem = Number.isFinite(s.lag) ? s.lag : N - s.delivered;
      if (rem < N * 0.05) keptUp.push(name);
      else remaining.set(name, rem);
    }
    ctx.log(
      `dispatch: backlog after fill: ${[...afterFill].map(([n, s]) => `${n} ${fmt.int(Number.isFinite(s.lag) ? s.lag : N - s.delivered)}`).join(', ')}; restarting Beacon`,
    );
    beacon = await startBeacon({ dir, sinks, extraYaml, port });
    const tReady = performance.now();
    const timeoutMs = Math.min(300_000, Math.max(60_000, (N / 5000) * 1000));
    const drains = await measureDrain(ctx, beacon, remaining, tReady, timeoutMs);
    ctx.rssPeaks.push(await beacon.stop());
    beacon = undefined;
    const rstats = await receiver.control('stats');

    const rate = new Map<string, number>();
    for (const [name, d] of drains) {
      const evps = d.remaining / d.seconds;
      rate.set(name, evps);
      res.rows.push({
        scenario: 'dispatch',
        subject: `${name} sink`,
        throughput: `${fmt.int(evps)} ev/s`,
        p50: '',
        p99: '',
        notes: `${fmt.int(d.remaining)} events in ${d.seconds.toFixed(2)} s${d.done ? '' : ` — DID NOT DRAIN within ${timeoutMs / 1000} s`}`,
      });
    }
    for (const name of keptUp) {
      rate.set(name, f.eventsPerSec);
      res.rows.push({
        scenario: 'dispatch',
        subject: `${name} sink`,
        throughput: `≥ ${fmt.int(f.eventsPerSec)} ev/s`,
        p50: '',
        p99: '',
        notes: 'kept up with the fill (could not be paused): a lower bound',
      });
    }
    res.notes.push(
      `pre-filled ${fmt.int(f.events)} events at ${fmt.int(f.eventsPerSec)} ev/s (POST /batch of 500, 8 in flight); http receiver counted ${fmt.int(rstats.events)} events in ${fmt.int(rstats.requests)} requests`,
      `http sink batch.inFlight ${process.env.BENCH_HTTP_IN_FLIGHT ?? 'default'}, receiver answers after ${Number(process.env.RECEIVER_DELAY_MS ?? 0)} ms`,
    );

    const ndjson = existsSync(outFile) ? outFile : undefined;
    const refEvps = ndjson ? reference(ndjson, 'the file sink output') : NaN;
    if (!ndjson) res.notes.push(`the file sink wrote nothing at ${outFile}; no file reference`);
    const fileRate = rate.get(FILE_SINK) ?? NaN;
    res.ratios.push({ label: 'dispatch file sink/raw copy events/s', value: fileRate / refEvps });
    res.ratios.push({
      label: 'dispatch file sink events/s',
      value: fileRate,
      kind: 'absolute',
      unit: 'ev/s',
      target: FILE_SINK_TARGET_EVENTS_PER_SEC,
    });
    res.ratios.push({
      label: 'dispatch http sink events/s',
      value: rate.get(HTTP_SINK) ?? NaN,
      kind: 'absolute',
      unit: 'ev/s',
    });
  } catch (e) {
    res.error = e instanceof BeaconUnavailable ? e.message : `Beacon: ${(e as Error).message}`;
    res.ratios.push({
      label: 'dispatch file sink events/s',
      value: NaN,
      kind: 'absolute',
      unit: 'ev/s',
      target: FILE_SINK_TARGET_EVENTS_PER_SEC,
    });
  } finally {
    if (beacon) ctx.rssPeaks.push(await beacon.stop());
    if (receiver) await stop(receiver.proc, 3000);
  }
  return res;
}
