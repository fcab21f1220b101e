import { join } from 'node:path';
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

  async load(name: string): Promise<LogPosition | undefined> {
    let raw: Buffer;
    try {
      raw = await this.fs.readFile(this.path(name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return parsePosition(raw.toString('utf8'));
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

/** Parses a stored position; an unreadable file counts as no position (start of the log). */
function parsePosition(text: string): LogPosition | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const position = (value as { position?: unknown }).position;
  if (typeof position !== 'object' || position === null) return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(position)) if (Number.isSafeInteger(v) && (v as number) >= 0) out[k] = v as number;
  return out;
}
