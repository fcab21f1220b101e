import { mkdtemp, open } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BeaconProcess } from '../support/beaconProcess.js';

/** `BEACON_RELIABILITY=long` (set by `npm run test:reliability`) runs the long variants. */
export const LONG = process.env.BEACON_RELIABILITY === 'long';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function randomBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'beacon-rel-'));
}

export interface SinkStatusLine {
  name: string;
  type: string;
  state: string;
  lagEvents: number;
  delivered: number;
  deadLettered: number;
  errors: number;
  lastError?: { message: string; kind: string; at: string };
  [field: string]: unknown;
}

export async function sinkStatus(beacon: BeaconProcess): Promise<SinkStatusLine[]> {
  const res = await fetch(`${beacon.url}/api/v1/status`, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET /api/v1/status answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { sinks: SinkStatusLine[] };
  return body.sinks;
}

export async function oneSink(beacon: BeaconProcess, name: string): Promise<SinkStatusLine> {
  const line = (await sinkStatus(beacon)).find((s) => s.name === name);
  if (!line) throw new Error(`no sink "${name}" in /api/v1/status`);
  return line;
}

/** Polls the status until `check` holds for the named sink; returns that status line. */
export async function waitForSink(
  beacon: BeaconProcess,
  name: string,
  check: (s: SinkStatusLine) => boolean,
  timeoutMs: number,
  what = 'the expected state',
): Promise<SinkStatusLine> {
  const deadline = Date.now() + timeoutMs;
  let last: SinkStatusLine | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await oneSink(beacon, name);
      if (check(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    await sleep(100);
  }
  throw new Error(
    `sink "${name}" did not reach ${what} within ${timeoutMs} ms; last status: ${JSON.stringify(last)}${lastErr ? `; last error: ${String(lastErr)}` : ''}\n--- beacon output ---\n${beacon.output().slice(-4000)}`,
  );
}

export interface NdjsonRead {
  /** Ids per line, in file order (duplicates kept). */
  ids: string[];
  /** Lines that are not a JSON object with a string id. */
  badLines: string[];
}

/**
 * Reads a file sink's NDJSON output (an absent file reads as empty), line by line: a long
 * outage run's file passes the largest string V8 can hold (~512 MiB).
 */
export async function readNdjsonIds(path: string): Promise<NdjsonRead> {
  const ids: string[] = [];
  const badLines: string[] = [];
  let lines: AsyncIterable<string>;
  try {
    const file = await open(path);
    lines = file.readLines({ encoding: 'utf8' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return { ids, badLines };
  }
  for await (const line of lines) {
    if (line === '') continue;
    try {
      const obj = JSON.parse(line) as { id?: unknown };
      if (typeof obj.id === 'string') ids.push(obj.id);
      else badLines.push(line);
    } catch {
      badLines.push(line);
    }
  }
  return { ids, badLines };
}

/** The resident set size of a process, in MiB, from /proc/<pid>/status (VmRSS). */
export function rssMiB(pid: number | undefined): number {
  if (pid === undefined) throw new Error('no pid');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** The pids of a process and all its descendants (a cluster primary and its collectors). */
export function processTree(pid: number): number[] {
  const out = [pid];
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const c of children.split(/\s+/).filter(Boolean)) out.push(...processTree(Number(c)));
  } catch {
    // gone or not readable
  }
  return out;
}

/** A pixel answers 204: the collector is alive and taking events. */
export async function pixelAnswers(beacon: BeaconProcess): Promise<number> {
  const res = await fetch(`${beacon.url}/t/alive_check?x=1`, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

export function alive(beacon: BeaconProcess): boolean {
  return beacon.child.exitCode === null && beacon.child.signalCode === null;
}

/** Adds a tail of the process output to an assertion message. */
export function withOutput(beacon: BeaconProcess, message: string): string {
  return `${message}\n--- beacon output (tail) ---\n${beacon.output().slice(-3000)}`;
}
