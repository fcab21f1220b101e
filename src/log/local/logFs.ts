import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * The file system under the log, as a seam: the real one (`nodeLogFs`) and an in-memory one
 * (`MemoryLogFs`) that can lose everything not yet synced, for crash tests.
 *
 * Errors keep Node's shape: a missing path throws an error whose `code` is `'ENOENT'`.
 */
export interface LogFs {
  /** Creates the directory and its parents; no error when it exists. */
  mkdir(path: string): Promise<void>;
  /** Names in the directory (not paths), in no particular order. */
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<{ size: number }>;
  /** Opens for reading and positional writing, creating an empty file when missing. */
  openWrite(path: string): Promise<LogFile>;
  openRead(path: string): Promise<LogFile>;
  readFile(path: string): Promise<Buffer>;
  /** Replaces `to` atomically once the parent directory is synced. */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes creates, renames and unlinks in the directory durable. */
  syncDir(path: string): Promise<void>;
}

export interface LogFile {
  /** Reads up to `length` bytes at file `position` into `buf[offset..]`; returns the count (0 at end). */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes every byte of `buffers`, in order, starting at file `position`. */
  writev(buffers: readonly Buffer[], position: number): Promise<void>;
  /** Makes the written data durable (fdatasync). */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}

class NodeLogFile implements LogFile {
  constructor(private readonly handle: FileHandle) {}

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(buf, offset, length, position);
    return bytesRead;
  }

  async writev(buffers: readonly Buffer[], position: number): Promise<void> {
    let pending = buffers.filter((b) => b.length > 0);
    let pos = position;
    while (pending.length > 0) {
      const { bytesWritten } = await this.handle.writev(pending, pos);
      pos += bytesWritten;
      // A short write is rare on a regular file; continue with what is left.
      let skip = bytesWritten;
      const rest: Buffer[] = [];
      for (const b of pending) {
        if (skip >= b.length) skip -= b.length;
        else {
          rest.push(skip > 0 ? b.subarray(skip) : b);
          skip = 0;
        }
      }
      pending = rest;
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** The real file system (node:fs/promises). */
export const nodeLogFs: LogFs = {
  async mkdir(path) {
    await fsp.mkdir(path, { recursive: true });
  },
  readdir: (path) => fsp.readdir(path),
  async stat(path) {
    const s = await fsp.stat(path);
    return { size: s.size };
  },
  async openWrite(path) {
    return new NodeLogFile(await fsp.open(path, constants.O_RDWR | constants.O_CREAT, 0o644));
  },
  async openRead(path) {
    return new NodeLogFile(await fsp.open(path, 'r'));
  },
  readFile: (path) => fsp.readFile(path),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  async syncDir(path) {
    const handle = await fsp.open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
