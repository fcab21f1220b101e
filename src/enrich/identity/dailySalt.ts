import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { BeaconError } from '../../errors/beaconError.js';

/**
 * The salt of cookieless ids: 32 random bytes per UTC day, in `<dir>/salt-<YYYY-MM-DD>`.
 * Promises it keeps:
 * - Every process reading the same directory on the same day gets the same salt (the first to
 *   need it creates it with link(2), which fails if another process got there first, so there
 *   is never a second salt for a day), and so does a process restarted that day.
 * - A file is only ever seen whole: it is written and fsync'ed under a temporary name first.
 * - Once a process has moved to a new day, the files of every other day are deleted, so ids of
 *   past days can no longer be recomputed from the raw address and user agent, by Beacon or
 *   by anyone who later reads the disk.
 */
const DAY_MS = 86_400_000;

export class DailySalt {
  private salt: Buffer = Buffer.alloc(0);
  private saltHex = '';
  /** The current salt's UTC day, as [start, end) in ms: checked per request without making a Date. */
  private dayStart = 0;
  private dayEnd = 0;

  constructor(
    private readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The current UTC day's salt. Reads or creates the file once per day; throws BEACON_E_IDENTITY_SALT when it cannot. */
  current(): Buffer {
    const now = this.now();
    if (now >= this.dayStart && now < this.dayEnd) return this.salt;
    const start = now - (((now % DAY_MS) + DAY_MS) % DAY_MS);
    const day = new Date(start).toISOString().slice(0, 10);
    try {
      mkdirSync(this.dir, { recursive: true });
      this.salt = this.readOrCreate(join(this.dir, `salt-${day}`));
      this.saltHex = this.salt.toString('hex');
      this.dayStart = start;
      this.dayEnd = start + DAY_MS;
      this.removeOtherDays(day);
    } catch (err) {
      if (err instanceof BeaconError) throw err;
      throw new BeaconError(
        'BEACON_E_IDENTITY_SALT',
        `the cookieless salt under ${this.dir} cannot be written or read: ${(err as Error).message}`,
        { field: 'dataDir' },
      );
    }
    return this.salt;
  }

  /** `current()` as 64 hex digits. */
  currentHex(): string {
    this.current();
    return this.saltHex;
  }

  private readOrCreate(path: string): Buffer {
    const existing = readSalt(path);
    if (existing !== undefined) return existing;
    const fresh = randomBytes(32);
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeWhole(tmp, fresh.toString('hex'));
    try {
      linkSync(tmp, path);
      return fresh;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process made today's salt first: use theirs. A file that is not a salt
      // (damaged by hand) is replaced, atomically, so readers see the old or the new one.
      const theirs = readSalt(path);
      if (theirs !== undefined) return theirs;
      renameSync(tmp, path);
      return fresh;
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // renamed, or already gone
      }
    }
  }

  private removeOtherDays(day: string): void {
    const keep = `salt-${day}`;
    for (const name of readdirSync(this.dir)) {
      if (!name.startsWith('salt-') || name === keep || name.startsWith(`${keep}.`)) continue;
      try {
        unlinkSync(join(this.dir, name));
      } catch {
        // another process removed it first
      }
    }
  }
}

function readSalt(path: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return /^[0-9a-f]{64}$/.test(text) ? Buffer.from(text, 'hex') : undefined;
}

function writeWhole(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
