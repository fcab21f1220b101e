import type { TrackedEvent } from '../../event/trackedEvent.js';

/**
 * The events most recently decoded from each partition, shared by every cursor of one reader.
 * Sinks usually follow the tail of the log together, so without this each of N sinks would
 * check and parse every record N times; with it, the first cursor to reach a record decodes it
 * and the others take the same event object (sinks treat events as read-only).
 *
 * An entry is used only for the exact frame it was decoded from: same partition, segment,
 * file offset, sequence number and length. Cursors decode only durable records, whose bytes
 * never change once written (a crash cuts only records that were never durable), so a cursor
 * that finds such a frame header at that place in its own buffer is looking at the very bytes
 * another cursor already checked against their CRC. A header that is itself corrupt cannot
 * match an entry by accident unless it repeats all five, in which case it is that record.
 */
export class RecentRecords {
  private readonly rings = new Map<string, Ring>();
  private sharing = false;

  /**
   * `capacity` records per partition: two batches of the default 500, enough for sinks that
   * follow each other closely. Kept small on purpose: entries outlive a young-generation GC or
   * two, and a larger ring promotes every event to the old generation (tens of MiB of RSS).
   */
  constructor(private readonly capacity = 1024) {}

  /** With a single cursor nobody could share: remember nothing (and hold no events alive). */
  setReaders(count: number): void {
    this.sharing = count > 1;
    if (!this.sharing) this.rings.clear();
  }

  /** The event decoded from `partition`'s frame `seq` at `offset` of segment `segmentBase` with `size` bytes, if remembered. */
  get(partition: string, seq: number, segmentBase: number, offset: number, size: number): TrackedEvent | undefined {
    if (!this.sharing) return undefined;
    const ring = this.rings.get(partition);
    if (ring === undefined) return undefined;
    const i = seq & ring.mask;
    if (ring.seqs[i] !== seq || ring.offsets[i] !== offset || ring.bases[i] !== segmentBase || ring.sizes[i] !== size)
      return undefined;
    return ring.events[i];
  }

  put(partition: string, seq: number, segmentBase: number, offset: number, size: number, event: TrackedEvent): void {
    if (!this.sharing) return;
    let ring = this.rings.get(partition);
    if (ring === undefined) {
      ring = newRing(this.capacity);
      this.rings.set(partition, ring);
    }
    const i = seq & ring.mask;
    ring.seqs[i] = seq;
    ring.bases[i] = segmentBase;
    ring.offsets[i] = offset;
    ring.sizes[i] = size;
    ring.events[i] = event;
  }

  clear(): void {
    this.rings.clear();
  }
}

/** Slot `seq & mask` holds record `seq`, so a lookup is one index and four comparisons. */
interface Ring {
  mask: number;
  seqs: Float64Array;
  bases: Float64Array;
  offsets: Float64Array;
  sizes: Float64Array;
  events: (TrackedEvent | undefined)[];
}

function newRing(capacity: number): Ring {
  // A power of two, so the slot is a mask of the sequence number (below 2^53, so `&` sees its low 32 bits).
  const size = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
  return {
    mask: size - 1,
    seqs: new Float64Array(size).fill(-1),
    bases: new Float64Array(size),
    offsets: new Float64Array(size),
    sizes: new Float64Array(size),
    events: new Array<TrackedEvent | undefined>(size).fill(undefined),
  };
}
