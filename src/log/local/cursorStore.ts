import { join } from 'node:path';
import { BeaconError } from '../../errors/beaconError.js';
import type { LogPosition } from '../eventLog.js';
import { isNotFound, type LogFs } from './logFs.js';

/**
 * Persisted cursor positions, one small JSON file per cursor under `<log dir>/cursors/`.
 * A save is atomic: write a temp file, fsync it, rename it over the old one, fsync the
 * directory. A crash leaves either the old or the new position, never a mix.
 */
export class CursorStore {
  private readonly dir: string;

  constructor(
    private readonly fs: LogFs,
    logDir: string,
  ) {
    this.dir = join(logDir, 'cursors');
  }

  async init(): Promise<void> {
    await this.fs.mkdir(this.dir);
  }

  /**
   * The stored position, or undefined when the cursor has none yet (no file). A file that cannot
   * be read or parsed throws BEACON_E_CURSOR_UNREADABLE naming it: starting over would deliver
   * the whole retained log again, and guessing could skip events, so the caller stops the sink.
   */
  async load(name: string): Promise<LogPosition | undefined> {
    const path = this.path(name);
    let raw: Buffer;
    try {
      raw = await this.fs.readFile(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw unreadableCursor(
        name,
        path,
        `reading it failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        err,
      );
    }
    const parsed = parsePosition(raw.toString('utf8'));
    if (typeof parsed === 'string') throw unreadableCursor(name, path, parsed);
    return parsed;
  }

  /** Where the position of cursor `name` is kept. */
  pathOf(name: string): string {
    return this.path(name);
  }

  async save(name: string, position: LogPosition): Promise<void> {
    const target = this.path(name);
    const temp = `${target}.tmp`;
    const file = await this.fs.openWrite(temp);
    try {
      const body = Buffer.from(JSON.stringify({ version: 1, position }));
      await file.truncate(0);
      await file.writev([body], 0);
      await file.datasync();
    } finally {
      await file.close();
    }
    await this.fs.rename(temp, target);
    await this.fs.syncDir(this.dir);
  }

  private path(name: string): string {
    return join(this.dir, `${encodeURIComponent(name)}.json`);
  }
}

/** Parses a stored position; a string saying what is wrong when it is not one. */
function parsePosition(text: string): LogPosition | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `it is not JSON (${(err as Error).message.slice(0, 100)})`;
  }
  const position =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as { position?: unknown }).position
      : undefined;
  if (typeof position !== 'object' || position === null || Array.isArray(position))
    return 'it holds no {"position": {...}} object';
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(position)) {
    if (!Number.isSafeInteger(v) || (v as number) < 0)
      return `its position ${k}: ${JSON.stringify(v)?.slice(0, 40)} is not a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`;
    out[k] = v as number;
  }
  return out;
}

/** The error that stops a sink whose cursor file cannot be used: what is wrong, and how to reset it. */
export function unreadableCursor(name: string, path: string, why: string, cause?: unknown): BeaconError {
  return new BeaconError(
    'BEACON_E_CURSOR_UNREADABLE',
    `the cursor of sink "${name}" in ${path} cannot be used: ${why}. The sink stays stopped rather than start over or skip events: move the file aside to deliver the retained log from its start, or write a position within the log's range into it, then restart Beacon`,
    { sink: name, path },
    { cause },
  );
}
