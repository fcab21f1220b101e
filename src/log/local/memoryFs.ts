import { basename, dirname } from 'node:path';
import type { LogFile, LogFs } from './logFs.js';

/**
 * An in-memory LogFs that knows what a crash would keep: file bytes up to the last
 * `datasync`, and directory entries (creates, renames, unlinks) up to the last `syncDir` of
 * their directory. `crash()` drops the rest and invalidates every open file.
 *
 * Simplifications, on purpose: directories themselves are durable as soon as `mkdir` returns,
 * and a file's synced bytes are a snapshot taken when `datasync` is called.
 */
export class MemoryLogFs implements LogFs {
  private dirs = new Map<string, Dir>();
  private generation = 0;
  /** Counts of calls, for tests that check how many syncs happened. */
  readonly calls = { datasync: 0, writev: 0, syncDir: 0, read: 0 };

  /** `syncTicks`: event-loop turns a datasync takes, so tests can act while one is in flight. */
  constructor(readonly options: { syncTicks?: number } = {}) {}

  async mkdir(path: string): Promise<void> {
    await tick();
    for (let p = path; !this.dirs.has(p); p = dirname(p)) {
      this.dirs.set(p, { entries: new Map(), durable: new Map() });
      if (dirname(p) === p) break;
    }
  }

  async readdir(path: string): Promise<string[]> {
    await tick();
    return [...this.dir(path).entries.keys()];
  }

  async stat(path: string): Promise<{ size: number }> {
    await tick();
    return { size: this.inode(path).length };
  }

  async openWrite(path: string): Promise<LogFile> {
    await tick();
    const dir = this.dir(dirname(path));
    let node = dir.entries.get(basename(path));
    if (!node) {
      node = { data: Buffer.alloc(0), length: 0, synced: Buffer.alloc(0) };
      dir.entries.set(basename(path), node);
    }
    return new MemoryFile(this, node, this.generation);
  }

  async openRead(path: string): Promise<LogFile> {
    await tick();
    return new MemoryFile(this, this.inode(path), this.generation);
  }

  async readFile(path: string): Promise<Buffer> {
    await tick();
    const node = this.inode(path);
    return Buffer.from(node.data.subarray(0, node.length));
  }

  async rename(from: string, to: string): Promise<void> {
    await tick();
    const node = this.inode(from);
    this.dir(dirname(from)).entries.delete(basename(from));
    this.dir(dirname(to)).entries.set(basename(to), node);
  }

  async unlink(path: string): Promise<void> {
    await tick();
    this.inode(path);
    this.dir(dirname(path)).entries.delete(basename(path));
  }

  async syncDir(path: string): Promise<void> {
    this.calls.syncDir++;
    const dir = this.dir(path);
    dir.durable = new Map(dir.entries);
    await tick();
  }

  /**
   * Loses everything not synced. `tornTail(n)` may keep the first k of the n unsynced bytes
   * appended to a file since its last sync (a torn write); by default none are kept.
   */
  crash(tornTail: (unsyncedBytes: number) => number = () => 0): void {
    this.generation++;
    for (const dir of this.dirs.values()) {
      dir.entries = new Map(dir.durable);
      for (const node of dir.entries.values()) {
        let keep = node.synced;
        const extra = node.length - node.synced.length;
        if (extra > 0 && node.data.subarray(0, node.synced.length).equals(node.synced)) {
          const k = Math.max(0, Math.min(extra, Math.floor(tornTail(extra))));
          keep = Buffer.from(node.data.subarray(0, node.synced.length + k));
        }
        node.data = Buffer.from(keep);
        node.length = keep.length;
      }
    }
  }

  /** Raw access for tests that corrupt bytes on "disk" (the change counts as synced). */
  poke(path: string, edit: (bytes: Buffer) => Buffer): void {
    const node = this.inode(path);
    const next = edit(Buffer.from(node.data.subarray(0, node.length)));
    node.data = next;
    node.length = next.length;
    node.synced = Buffer.from(next);
  }

  /** @internal */
  checkGeneration(generation: number): void {
    if (generation !== this.generation)
      throw Object.assign(new Error('file handle from before a crash'), { code: 'EBADF' });
  }

  /** @internal */
  countCall(name: keyof MemoryLogFs['calls']): void {
    this.calls[name]++;
  }

  private dir(path: string): Dir {
    const dir = this.dirs.get(path);
    if (!dir) throw notFound(path);
    return dir;
  }

  private inode(path: string): Inode {
    const node = this.dirs.get(dirname(path))?.entries.get(basename(path));
    if (!node) throw notFound(path);
    return node;
  }
}

interface Dir {
  entries: Map<string, Inode>;
  durable: Map<string, Inode>;
}

interface Inode {
  data: Buffer;
  length: number;
  synced: Buffer;
}

class MemoryFile implements LogFile {
  private closed = false;

  constructor(
    private readonly fs: MemoryLogFs,
    private readonly node: Inode,
    private readonly generation: number,
  ) {}

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    this.check();
    this.fs.countCall('read');
    await tick();
    this.check();
    const n = Math.max(0, Math.min(length, this.node.length - position));
    if (n > 0) this.node.data.copy(buf, offset, position, position + n);
    return n;
  }

  async writev(buffers: readonly Buffer[], position: number): Promise<void> {
    this.check();
    this.fs.countCall('writev');
    const total = buffers.reduce((s, b) => s + b.length, 0);
    const end = position + total;
    if (end > this.node.data.length) {
      const grown = Buffer.alloc(Math.max(end, this.node.data.length * 2));
      this.node.data.copy(grown, 0, 0, this.node.length);
      this.node.data = grown;
    }
    if (position > this.node.length) this.node.data.fill(0, this.node.length, position);
    let pos = position;
    for (const b of buffers) {
      b.copy(this.node.data, pos);
      pos += b.length;
    }
    this.node.length = Math.max(this.node.length, end);
    await tick();
  }

  async datasync(): Promise<void> {
    this.check();
    this.fs.countCall('datasync');
    for (let i = 0; i < (this.fs.options.syncTicks ?? 1); i++) await tick();
    // Durable only once the sync completes: a crash before this point loses the bytes.
    this.check();
    this.node.synced = Buffer.from(this.node.data.subarray(0, this.node.length));
  }

  async truncate(length: number): Promise<void> {
    this.check();
    if (length < this.node.length) this.node.length = length;
    else await this.writev([Buffer.alloc(length - this.node.length)], this.node.length);
    await tick();
  }

  async size(): Promise<number> {
    this.check();
    await tick();
    return this.node.length;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw Object.assign(new Error('file is closed'), { code: 'EBADF' });
    this.fs.checkGeneration(this.generation);
  }
}

function notFound(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), { code: 'ENOENT' });
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
