import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';
import type { ResendMarks } from '../event/resendMarks.js';
import { IdHashRing } from './idHashRing.js';
import type { EnrichStep } from './step.js';

/** How often appended ids are fdatasync'ed (lazily: a crash loses at most this tail). */
const SYNC_EVERY_MS = 1000;

export interface IdMemoryOptions {
  /** Directory of the persisted file (`dataDir/dedupe`); unset: memory only. */
  dir?: string;
  /** The collector's partition; its file is `ids-<partition>.log`. */
  partition?: string;
  ttlMs: number;
  maxIds: number;
  now?: () => number;
}

/** Lines of the file written per write while compacting, so no string of the whole file is built. */
const COMPACT_LINES_PER_WRITE = 4096;

/**
 * A TTL'd set of event ids that survives a restart. In memory 64-bit hashes of the ids in
 * first-seen order (IdHashRing: ~21 bytes an id, so the oldest entries are at its front and
 * expire or are evicted from there). On disk an
 * append-only file of `<ms> <id as JSON>` lines, written to the OS with each batch once its
 * append is durable (so a process exit or kill loses nothing, and never outlives its events) and fdatasync'ed lazily about once a second: a machine
 * crash can lose the last second of ids, which only weakens dedupe (a retry of those events
 * is then written again, unflagged); it never loses an event. The file is compacted (expired
 * and evicted ids left out) when opened and whenever it holds more than `maxIds` superfluous
 * lines. It holds only ids and times.
 */
export class IdMemory {
  private readonly ids: IdHashRing;
  private readonly ttlMs: number;
  private readonly maxIds: number;
  private readonly now: () => number;
  private readonly path: string | undefined;
  private fd: number | undefined;
  private pending = '';
  private linesOnDisk = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(options: IdMemoryOptions) {
    this.ttlMs = options.ttlMs;
    this.maxIds = options.maxIds;
    this.ids = new IdHashRing(options.maxIds);
    this.now = options.now ?? Date.now;
    this.path = options.dir === undefined ? undefined : join(options.dir, `ids-${options.partition ?? 'p0'}.log`);
  }

  /** Loads the file (if any), compacts it and opens it for appending. Throws if the directory cannot be written. */
  static open(options: IdMemoryOptions): IdMemory {
    const memory = new IdMemory(options);
    if (memory.path !== undefined) {
      mkdirSync(options.dir!, { recursive: true });
      memory.load();
      memory.compact();
      memory.timer = setInterval(() => memory.sync(), SYNC_EVERY_MS);
      memory.timer.unref();
    }
    return memory;
  }

  get size(): number {
    return this.ids.size;
  }

  /** True when `id` was seen within the TTL; otherwise remembers it (first-seen time) and returns false. */
  seen(id: string): boolean {
    const now = this.now();
    this.expire(now);
    if (this.ids.timeOf(id) !== undefined) return true;
    this.ids.add(id, now);
    if (this.path !== undefined) this.pending += `${now} ${JSON.stringify(id)}\n`;
    return false;
  }

  /**
   * Remembers ids of events found stored in the log at start that the file does not hold (a
   * kill -9 between a durable append and `flush`), as first seen now, and writes them out.
   * Returns how many were new.
   */
  recover(ids: Iterable<string>): number {
    const now = this.now();
    this.expire(now);
    let added = 0;
    for (const id of ids) {
      if (this.ids.timeOf(id) !== undefined) continue;
      this.ids.add(id, now);
      if (this.path !== undefined) this.pending += `${now} ${JSON.stringify(id)}\n`;
      added++;
    }
    this.flush();
    return added;
  }

  /**
   * Forgets ids remembered by a batch whose append failed, so the client's retry is not
   * taken for a repeat. On disk a `<ms> !<json id>` line undoes the earlier one.
   */
  forget(ids: readonly string[]): void {
    const now = this.now();
    for (const id of ids) {
      if (!this.ids.remove(id)) continue;
      if (this.path !== undefined) this.pending += `${now} !${JSON.stringify(id)}\n`;
    }
  }

  /** Hands the ids remembered since the last call to the OS (one write); compacts a file that grew too long. */
  flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return;
    const text = this.pending;
    this.pending = '';
    const lines = countLines(text);
    writeSync(this.fd, text);
    this.linesOnDisk += lines;
    this.dirty = true;
    if (this.linesOnDisk > this.ids.size + Math.max(this.maxIds, 1024)) this.compact();
  }

  /** fdatasync what was written (called lazily by a timer). */
  sync(): void {
    if (this.fd === undefined || !this.dirty) return;
    this.dirty = false;
    try {
      fdatasyncSync(this.fd);
    } catch {
      // A failed sync only weakens dedupe after a crash.
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd === undefined) return;
    this.flush();
    this.sync();
    closeSync(this.fd);
    this.fd = undefined;
  }

  private expire(now: number): void {
    this.ids.expire(now - this.ttlMs);
  }

  /** Reads `<ms> <json id>` lines; a torn or unreadable line (a crash mid-write) is skipped. */
  private load(): void {
    const text = this.readFile();
    const oldest = this.now() - this.ttlMs;
    for (const line of text.split('\n')) {
      const parsed = parseLine(line);
      if (!parsed || parsed.at <= oldest) continue;
      if (parsed.forgotten) {
        this.ids.remove(parsed.id);
        continue;
      }
      if (this.ids.timeOf(parsed.id) !== undefined) continue;
      this.ids.add(parsed.id, parsed.at);
    }
  }

  private readFile(): string {
    try {
      return readFileSync(this.path!, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  }

  /**
   * Rewrites the file with the live ids only (write a temp file, fsync, rename) and reopens it
   * for appending. Memory holds hashes, not ids, so the ids come from the file itself: a line
   * is kept when its id is held with that line's first-seen time.
   */
  private compact(): void {
    this.expire(this.now());
    const text = this.readFile();
    const tmp = `${this.path!}.tmp`;
    const tmpFd = openSync(tmp, 'w');
    let kept = 0;
    try {
      let out = '';
      let outLines = 0;
      for (const line of text.split('\n')) {
        const parsed = parseLine(line);
        // (An id forgotten and seen again within one ms keeps two equal lines: harmless, a load skips the second.)
        if (!parsed || parsed.forgotten || this.ids.timeOf(parsed.id) !== parsed.at) continue;
        out += `${line}\n`;
        kept++;
        if (++outLines === COMPACT_LINES_PER_WRITE) {
          writeSync(tmpFd, out);
          out = '';
          outLines = 0;
        }
      }
      if (out !== '') writeSync(tmpFd, out);
      fsyncSync(tmpFd);
    } finally {
      closeSync(tmpFd);
    }
    if (this.fd !== undefined) closeSync(this.fd);
    renameSync(tmp, this.path!);
    this.fd = openSync(this.path!, 'a');
    this.linesOnDisk = kept;
    this.dirty = false;
  }
}

/** One `<ms> <json id>` or `<ms> !<json id>` line; undefined for a torn or unreadable one. */
function parseLine(line: string): { at: number; id: string; forgotten: boolean } | undefined {
  const space = line.indexOf(' ');
  if (space <= 0) return undefined;
  const at = Number(line.slice(0, space));
  if (!Number.isFinite(at)) return undefined;
  const forgotten = line.charCodeAt(space + 1) === 0x21; // '!'
  let id: unknown;
  try {
    id = JSON.parse(line.slice(space + (forgotten ? 2 : 1)));
  } catch {
    return undefined;
  }
  return typeof id === 'string' ? { at, id, forgotten } : undefined;
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * `meta.duplicate = true` when an event's client-given `id` (a /batch element with its own
 * `id`) was already seen within `ttlMs`: an idempotency key, exact, and remembered across
 * restarts. Events whose id the server made (pixels, /batch elements without `id`) and
 * events not marked in `marks` are skipped at the cost of one lookup in a WeakSet. A repeat from a
 * blind resend (`marks.isResent`) is also marked (`marks.markRepeatedResend`) for the chain to drop (counted as tier `resend`,
 * not `id`); a resent event whose id is not held is new (its first copy was lost) and kept.
 */
export function idMemoryStep(options: { memory: IdMemory; marks: ResendMarks; metrics?: Metrics }): EnrichStep {
  const { memory, marks, metrics } = options;
  let found = 0;
  let resent = 0;
  return {
    name: 'ids',
    apply(event: TrackedEvent): void {
      if (!marks.hasClientId(event)) return;
      const id: unknown = event.id;
      if (typeof id !== 'string') return;
      if (memory.seen(id)) {
        event.meta.duplicate = true;
        if (marks.isResent(event)) {
          marks.markRepeatedResend(event);
          resent++;
        } else {
          found++;
        }
      }
    },
    settled(events: readonly TrackedEvent[], durable: boolean): void {
      if (durable) {
        // Written only now that the events are in the log: ids written before the append
        // could outlive a kill -9 that the events did not, and a client's retry of those
        // events would then be dropped as a repeat although nothing of it was stored.
        try {
          memory.flush();
        } catch {
          // A disk error only costs persistence of these ids; the events go on.
        }
        return;
      }
      // Forget only ids this batch added: a repeat (flagged) was remembered by an earlier batch.
      const added: string[] = [];
      for (const event of events) {
        if (marks.hasClientId(event) && typeof event.id === 'string' && event.meta?.duplicate !== true)
          added.push(event.id);
      }
      memory.forget(added);
      try {
        memory.flush();
      } catch {
        // Only persistence of the undo is lost: a restart may then flag the retry.
      }
    },
    recovered(ids: readonly string[]): void {
      // Which of them the client gave is not in the log: all are taken. A server-made id never
      // comes back, so it only takes a slot until it expires.
      memory.recover(ids);
    },
    flush(): void {
      // The ids are written in `settled`, once the append made the events durable.
      if (found > 0) metrics?.enrichDuplicates.inc({ tier: 'id' }, found);
      if (resent > 0) metrics?.enrichDuplicates.inc({ tier: 'resend' }, resent);
      found = 0;
      resent = 0;
    },
  };
}
