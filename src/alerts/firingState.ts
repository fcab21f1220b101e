import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { FiringRecord } from './tracker.js';

/**
 * The alerts firing, kept in `dataDir/alerts/firing.json` so a restart neither fires them a
 * second time nor forgets to send their resolution. Written (temp file, then rename) only
 * when the set or a reminder time changes, so a crash leaves the old or the new file whole.
 */
const fileSchema = z.object({
  version: z.literal(1),
  firing: z.array(
    z.object({ rule: z.string(), key: z.string(), since: z.number(), firedAt: z.number(), lastNotifiedAt: z.number() }),
  ),
});

export interface StoredAlert extends FiringRecord {
  rule: string;
  key: string;
}

export class FiringStateFile {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'alerts', 'firing.json');
  }

  /** The stored alerts; none when the file is missing. A file that does not parse is reported, and treated as empty. */
  async load(): Promise<{ alerts: StoredAlert[]; problem?: string }> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { alerts: [] };
      return { alerts: [], problem: `cannot read ${this.path}: ${(err as Error).message}` };
    }
    try {
      return { alerts: fileSchema.parse(JSON.parse(text)).firing };
    } catch (err) {
      return {
        alerts: [],
        problem: `${this.path} is not a valid alert state file (${(err as Error).message.split('\n')[0]})`,
      };
    }
  }

  async save(alerts: readonly StoredAlert[]): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify({ version: 1, firing: alerts }, null, 2));
    await rename(tmp, this.path);
  }
}
