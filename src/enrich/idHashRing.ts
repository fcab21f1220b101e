import { randomInt } from 'node:crypto';

/**
 * The in-memory half of the id memory: 64-bit hashes of ids in first-seen order, each with the
 * time it was first seen, in typed arrays.
 *
 * Why not a Map of id strings: measured in the sink-outage test (3000 client ids a second),
 * filling a `Map<string, number>` to its 100k default held ~250 bytes an id on the heap, and
 * its rehashes and the compaction's whole-file string went through V8's large-object space
 * (+14 MiB); the heap and RSS grew for the whole time it filled. Here an id costs 21 bytes
 * (two Uint32 halves, a Float64 time, and a 32-bit index cell at half load), allocated in
 * a few doublings up to `maxIds` and never more.
 *
 * Two different ids share a hash with a chance of about n²/2⁶⁵ (3 × 10⁻¹⁰ for 100k ids): the
 * later one would be taken for a repeat. The hash is seeded per process, so a client cannot
 * craft ids that collide on purpose; the file on disk keeps the ids themselves, so the seed
 * need not survive a restart.
 */
export class IdHashRing {
  /** Ring of slots in first-seen order: `head` is the oldest, `slots` how many are in use (live or forgotten). */
  private hi: Uint32Array;
  private lo: Uint32Array;
  /** First-seen time of a slot; NaN once forgotten. */
  private at: Float64Array;
  private head = 0;
  private slots = 0;
  private live = 0;
  /** Open-addressing index (linear probing): slot + 1, or 0 for an empty cell. */
  private index: Int32Array;
  private readonly seed = randomInt(0x7fffffff);

  constructor(private readonly maxSlots: number) {
    const initial = Math.min(maxSlots, 4096);
    this.hi = new Uint32Array(initial);
    this.lo = new Uint32Array(initial);
    this.at = new Float64Array(initial);
    this.index = new Int32Array(tableSize(initial));
  }

  get size(): number {
    return this.live;
  }

  /** Bytes held by the arrays (what the id memory costs, whatever the ids' length). */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.at.byteLength + this.index.byteLength;
  }

  /** The first-seen time of `id`, or undefined when it is not held. */
  timeOf(id: string): number | undefined {
    this.hash(id);
    const slot = this.find(H1, H2);
    return slot < 0 ? undefined : this.at[slot];
  }

  /** Remembers `id` (not held yet) as first seen at `at`; past `maxSlots` the oldest is dropped. */
  add(id: string, at: number): void {
    this.hash(id);
    const h1 = H1;
    const h2 = H2;
    if (this.slots === this.hi.length) {
      if (this.hi.length < this.maxSlots) this.grow();
      else this.dropOldest();
    }
    const slot = (this.head + this.slots) % this.hi.length;
    this.hi[slot] = h1;
    this.lo[slot] = h2;
    this.at[slot] = at;
    this.slots++;
    this.live++;
    const mask = this.index.length - 1;
    let i = h2 & mask;
    while (this.index[i] !== 0) i = (i + 1) & mask;
    this.index[i] = slot + 1;
  }

  /** Forgets `id`; false when it was not held. */
  remove(id: string): boolean {
    this.hash(id);
    const slot = this.find(H1, H2);
    if (slot < 0) return false;
    this.unindex(slot);
    this.at[slot] = NaN;
    this.live--;
    return true;
  }

  /** Drops the oldest entries first seen at or before `oldest` (and forgotten slots at the head). */
  expire(oldest: number): void {
    while (this.slots > 0) {
      const t = this.at[this.head]!;
      if (t === t && t > oldest) return;
      this.dropOldest();
    }
  }

  /** Drops the slot at the head (the oldest). */
  private dropOldest(): void {
    const slot = this.head;
    if (this.at[slot] === this.at[slot]) {
      this.unindex(slot);
      this.live--;
    }
    this.head = (this.head + 1) % this.hi.length;
    this.slots--;
  }

  private find(h1: number, h2: number): number {
    const mask = this.index.length - 1;
    for (let i = h2 & mask; ; i = (i + 1) & mask) {
      const cell = this.index[i]!;
      if (cell === 0) return -1;
      const slot = cell - 1;
      if (this.lo[slot] === h2 && this.hi[slot] === h1) return slot;
    }
  }

  /** Removes a slot's index cell, shifting later cells of the probe run back so lookups never stop early. */
  private unindex(slot: number): void {
    const mask = this.index.length - 1;
    let i = this.lo[slot]! & mask;
    while (this.index[i] !== slot + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const cell = this.index[j]!;
      if (cell === 0) break;
      const home = this.lo[cell - 1]! & mask;
      // The cell at j may move to i when its home is not in (i, j] (cyclically).
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        this.index[i] = cell;
        i = j;
      }
    }
    this.index[i] = 0;
  }

  private grow(): void {
    const capacity = Math.min(this.maxSlots, this.hi.length * 2);
    const hi = new Uint32Array(capacity);
    const lo = new Uint32Array(capacity);
    const at = new Float64Array(capacity);
    for (let k = 0; k < this.slots; k++) {
      const from = (this.head + k) % this.hi.length;
      hi[k] = this.hi[from]!;
      lo[k] = this.lo[from]!;
      at[k] = this.at[from]!;
    }
    this.hi = hi;
    this.lo = lo;
    this.at = at;
    this.head = 0;
    this.index = new Int32Array(tableSize(capacity));
    const mask = this.index.length - 1;
    for (let slot = 0; slot < this.slots; slot++) {
      if (at[slot] !== at[slot]) continue;
      let i = lo[slot]! & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = slot + 1;
    }
  }

  /** Sets H1 and H2 to the two 32-bit halves of `id`'s seeded hash (cyrb53's mixing, kept to 64 bits). */
  private hash(id: string): void {
    let h1 = 0xdeadbeef ^ this.seed;
    let h2 = 0x41c6ce57 ^ this.seed;
    for (let i = 0; i < id.length; i++) {
      const ch = id.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    H1 = h1 >>> 0;
    H2 = h2 >>> 0;
  }
}

/** The hash of the last `hash` call (module scope: no allocation per id). */
let H1 = 0;
let H2 = 0;

/** A power of two at least twice the capacity, so probe runs stay short. */
function tableSize(capacity: number): number {
  let size = 8;
  while (size < capacity * 2) size *= 2;
  return size;
}
