import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { appendDurably } from '../ops/durableAppend.js';
import { join } from 'node:path';
import { toJsonShape } from '../event/codecs/json.js';
import { OPTIONAL_EVENT_FIELDS, type TrackedEvent } from '../event/trackedEvent.js';

/**
 * A sink's dead letter: `<dataDir>/dlq/<sink>.ndjson`, one JSON line per event the sink
 * refused for good:
 *
 *     {"ts":1714557600000,"sink":"hook","code":"BEACON_E_SINK_REJECTED","reason":"HTTP 400: ...","errorType":"http_400","event":{...}}
 *
 * `event` has the json codec's shape. `append` resolves only after the lines are fdatasync'd,
 * so the dispatcher may commit the cursor past a dead-lettered event without losing it.
 *
 * Replay moves the file aside to `<sink>.replaying.ndjson` first, so events dead-lettered
 * again during the replay land in a fresh `<sink>.ndjson`; a replay cut short leaves the
 * rest in the replaying file, and the next replay picks it up.
 */
export interface DeadLetterEntry {
  ts: number;
  sink: string;
  code: 'BEACON_E_SINK_REJECTED';
  reason: string;
  errorType: string;
  event: TrackedEvent;
}

export class DeadLetterFile {
  readonly path: string;
  readonly replayPath: string;
  private readonly dir: string;

  constructor(
    dataDir: string,
    readonly sink: string,
  ) {
    this.dir = join(dataDir, 'dlq');
    this.path = join(this.dir, `${sink}.ndjson`);
    this.replayPath = join(this.dir, `${sink}.replaying.ndjson`);
  }

  async append(
    entries: readonly { event: TrackedEvent; reason: string; errorType: string }[],
    now: number,
  ): Promise<void> {
    if (entries.length === 0) return;
    const text = entries
      .map((e) =>
        JSON.stringify({
          ts: now,
          sink: this.sink,
          code: 'BEACON_E_SINK_REJECTED',
          reason: e.reason,
          errorType: e.errorType,
          event: toJsonShape(e.event),
        }),
      )
      .join('\n');
    await appendDurably(this.path, text + '\n');
  }

  /** All entries of the dead letter (for tests and `beacon status`); unreadable lines are skipped. */
  async read(): Promise<DeadLetterEntry[]> {
    return parseLines(await readOrEmpty(this.path)).entries;
  }

  /**
   * Moves the current dead letter into the replaying file (after any leftover of a replay cut
   * short) and returns its entries. Unreadable lines go back to the dead letter untouched.
   */
  async beginReplay(): Promise<{ entries: DeadLetterEntry[]; unreadable: number }> {
    const leftover = await readOrEmpty(this.replayPath);
    const current = await readOrEmpty(this.path);
    const parsed = parseLines(leftover + current);
    await mkdir(this.dir, { recursive: true });
    await writeAtomically(this.replayPath, parsed.entries.map((e) => JSON.stringify(e) + '\n').join(''));
    await unlink(this.path).catch(ignoreMissing);
    if (parsed.bad.length > 0) await writeFile(this.path, parsed.bad.map((l) => l + '\n').join(''), { flag: 'a' });
    return { entries: parsed.entries, unreadable: parsed.bad.length };
  }

  /** Keeps `remaining` for the next replay (a replay cut short), or removes the file when none remain. */
  async endReplay(remaining: readonly DeadLetterEntry[]): Promise<void> {
    if (remaining.length === 0) await unlink(this.replayPath).catch(ignoreMissing);
    else await writeAtomically(this.replayPath, remaining.map((e) => JSON.stringify(e) + '\n').join(''));
  }
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    ignoreMissing(err);
    return '';
  }
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

function parseLines(text: string): { entries: DeadLetterEntry[]; bad: string[] } {
  const entries: DeadLetterEntry[] = [];
  const bad: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const entry = parseEntry(line);
    if (entry) entries.push(entry);
    else bad.push(line);
  }
  return { entries, bad };
}

function parseEntry(line: string): DeadLetterEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(raw)) return undefined;
  const event = parseEvent(raw.event);
  if (!event || typeof raw.sink !== 'string') return undefined;
  return {
    ts: typeof raw.ts === 'number' ? raw.ts : 0,
    sink: raw.sink,
    code: 'BEACON_E_SINK_REJECTED',
    reason: typeof raw.reason === 'string' ? raw.reason : '',
    errorType: typeof raw.errorType === 'string' ? raw.errorType : 'reject',
    event,
  };
}

/** Parses (not casts) an event written by the json codec. */
export function parseEvent(value: unknown): TrackedEvent | undefined {
  if (!isRecord(value)) return undefined;
  const { id, type, ts, props, meta } = value;
  if (typeof id !== 'string' || typeof type !== 'string' || typeof ts !== 'number') return undefined;
  const event: TrackedEvent = { id, type, ts, props: isRecord(props) ? props : {}, meta: isRecord(meta) ? meta : {} };
  for (const field of OPTIONAL_EVENT_FIELDS) {
    const v = value[field];
    if (field === 'clientTs') {
      if (typeof v === 'number') event.clientTs = v;
    } else if (typeof v === 'string') {
      event[field] = v;
    }
  }
  return event;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
