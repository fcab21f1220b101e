import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import type { Cursor } from '../../../src/log/eventLog.js';
import { nodeLogFs, type LogFs } from '../../../src/log/local/logFs.js';

export function event(n: number, ts = 1_700_000_000_000 + n): TrackedEvent {
  return { id: `e${n}`, type: 'page_view', ts, props: { n, path: `/page/${n}` }, meta: {} };
}

export function events(from: number, count: number): TrackedEvent[] {
  return Array.from({ length: count }, (_, i) => event(from + i));
}

/** A fresh temp directory, removed by the returned `cleanup`. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-log-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Reads until nothing more is ready, committing nothing; returns the ids in order. */
export async function drain(cursor: Cursor, commit = false): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const batch = await cursor.read(500, 0);
    if (batch.events.length === 0) return ids;
    for (const e of batch.events) ids.push(e.id);
    if (commit) cursor.commit(batch.position);
  }
}

export function ids(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `e${from + i}`);
}

/** The real file system, counting fdatasync calls. */
export function countingFs(): { fs: LogFs; syncs: () => number } {
  let syncs = 0;
  const fs: LogFs = {
    ...nodeLogFs,
    async openWrite(path) {
      const file = await nodeLogFs.openWrite(path);
      return Object.assign(Object.create(Object.getPrototypeOf(file)), file, {
        datasync: () => {
          syncs++;
          return file.datasync();
        },
      });
    },
  };
  return { fs, syncs: () => syncs };
}
