import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';
import { hasClientId, isResent } from '../sources/http/events.js';
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

/**
 * A TTL'd set of event ids that survives a restart. In memory a Map in first-seen order (so
 * the oldest entries are at its front and expire or are evicted from there). On disk an
 * append-only file of `<ms> <id as JSON>` lines, written to the OS with each batch (so a
 * process exit or kill loses nothing) and fdatasync'ed lazily about once a second: a machine
 * crash can lose the last second of ids, which only weakens dedupe (a retry of those events
 * is then written again, unflagged); it never loses an event. The file is compacted (expired
 * and evicted ids left out) when opened and whenever it holds more than `maxIds` superfluous
 * lines. It holds only ids and times.
 */
export class IdMemory {
  private readonly ids = new Map<string, number>();
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
    const at = this.ids.get(id);
    if (at !== undefined) return true;
    this.ids.set(id, now);
    if (this.ids.size > this.maxIds) this.ids.delete(this.ids.keys().next().value!);
    if (this.path !== undefined) this.pending += `${now} ${JSON.stringify(id)}\n`;
    return false;
  }

  /**
   * Forgets ids remembered by a batch whose append failed, so the client's retry is not
   * taken for a repeat. On disk a `<ms> !<json id>` line undoes the earlier one.
   */
  forget(ids: readonly string[]): void {
    const now = this.now();
    for (const id of ids) {
      if (!this.ids.delete(id)) continue;
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
    const oldest = now - this.ttlMs;
    for (const [id, at] of this.ids) {
      if (at > oldest) break;
      this.ids.delete(id);
    }
  }

  /** Reads `<ms> <json id>` lines; a torn or unreadable line (a crash mid-write) is skipped. */
  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.path!, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const oldest = this.now() - this.ttlMs;
    for (const line of text.split('\n')) {
      const space = line.indexOf(' ');
      if (space <= 0) continue;
      const at = Number(line.slice(0, space));
      if (!Number.isFinite(at) || at <= oldest) continue;
      const rest = line.slice(space + 1);
      const forgotten = rest.startsWith('!');
      let id: unknown;
      try {
        id = JSON.parse(forgotten ? rest.slice(1) : rest);
      } catch {
        continue;
      }
      if (typeof id !== 'string') continue;
      if (forgotten) {
        this.ids.delete(id);
        continue;
      }
      if (this.ids.has(id)) continue;
      this.ids.set(id, at);
      if (this.ids.size > this.maxIds) this.ids.delete(this.ids.keys().next().value!);
    }
  }

  /** Rewrites the file with the live ids only (write a temp file, fsync, rename) and reopens it for appending. */
  private compact(): void {
    this.expire(this.now());
    let text = '';
    for (const [id, at] of this.ids) text += `${at} ${JSON.stringify(id)}\n`;
    const tmp = `${this.path!}.tmp`;
    const tmpFd = openSync(tmp, 'w');
    try {
      writeSync(tmpFd, text);
      fsyncSync(tmpFd);
    } finally {
      closeSync(tmpFd);
    }
    if (this.fd !== undefined) closeSync(this.fd);
    renameSync(tmp, this.path!);
    this.fd = openSync(this.path!, 'a');
    this.linesOnDisk = this.ids.size;
    this.dirty = false;
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Repeats found in a blind resend (`POST /batch?resend=1`): the chain drops them whatever `enrich.duplicates.action` is. */
const repeatedResends = new WeakSet<object>();

/** True when the id step found `event` to be a resend of an id it already holds: never written. */
export function isRepeatedResend(event: object): boolean {
  return repeatedResends.has(event);
}

/**
 * `meta.duplicate = true` when an event's client-given `id` (a /batch element with its own
 * `id`) was already seen within `ttlMs`: an idempotency key, exact, and remembered across
 * restarts. Events whose id the server made (pixels, /batch elements without `id`) and
 * queue-source events are skipped at the cost of one lookup in a WeakSet. A repeat from a
 * blind resend (`isResent`) is also marked for the chain to drop (counted as tier `resend`,
 * not `id`); a resent event whose id is not held is new (its first copy was lost) and kept.
 */
export function idMemoryStep(options: { memory: IdMemory; metrics?: Metrics }): EnrichStep {
  const { memory, metrics } = options;
  let found = 0;
  let resent = 0;
  return {
    name: 'ids',
    apply(event: TrackedEvent): void {
      if (!hasClientId(event)) return;
      const id: unknown = event.id;
      if (typeof id !== 'string') return;
      if (memory.seen(id)) {
        event.meta.duplicate = true;
        if (isResent(event)) {
          repeatedResends.add(event);
          resent++;
        } else {
          found++;
        }
      }
    },
    settled(events: readonly TrackedEvent[], durable: boolean): void {
      if (durable) return;
      // Forget only ids this batch added: a repeat (flagged) was remembered by an earlier batch.
      const added: string[] = [];
      for (const event of events) {
        if (hasClientId(event) && typeof event.id === 'string' && event.meta?.duplicate !== true) added.push(event.id);
      }
      memory.forget(added);
      try {
        memory.flush();
      } catch {
        // Only persistence of the undo is lost: a restart may then flag the retry.
      }
    },
    flush(): void {
      try {
        memory.flush();
      } catch {
        // A disk error only costs persistence of these ids; the events go on.
      }
      if (found > 0) metrics?.enrichDuplicates.inc({ tier: 'id' }, found);
      if (resent > 0) metrics?.enrichDuplicates.inc({ tier: 'resend' }, resent);
      found = 0;
      resent = 0;
    },
  };
}
