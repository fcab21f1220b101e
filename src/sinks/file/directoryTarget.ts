import { copyFile, mkdir, open, rename } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { OpenedTarget } from '../s3/s3Sink.js';

/**
 * Finished lake objects into a local directory, with the bucket's guarantees: an object
 * appears whole or not at all (copied to a temp name, fsync'd, renamed, the directory
 * fsync'd), and putting a key again replaces it.
 */
export class DirectoryTarget implements OpenedTarget {
  constructor(private readonly root: string) {}

  async put(key: string, path: string): Promise<void> {
    const to = join(this.root, key);
    const rel = relative(this.root, to);
    if (rel.startsWith('..') || rel.startsWith(sep)) throw new Error(`object key ${key} leaves ${this.root}`);
    const dir = dirname(to);
    await mkdir(dir, { recursive: true });
    const temp = `${to}.tmp`;
    await copyFile(path, temp);
    await syncPath(temp, 'r+');
    await rename(temp, to);
    await syncPath(dir, 'r');
  }

  close(): void {}
}

async function syncPath(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
