import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

/**
 * The file-system calls the file sink makes, as a seam: tests (and the conformance suite)
 * pass a version that fails on demand to play a disk that goes away and comes back.
 */
export interface SinkFileSystem {
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  open(path: string, flags: string): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  access(path: string): Promise<void>;
}

export const nodeFileSystem: SinkFileSystem = {
  mkdir: (path, options) => fsp.mkdir(path, options),
  open: (path, flags) => fsp.open(path, flags),
  rename: (from, to) => fsp.rename(from, to),
  access: (path) => fsp.access(path),
};
