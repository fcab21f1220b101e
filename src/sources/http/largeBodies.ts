/**
 * How many large request bodies one process holds and parses at once (a counting semaphore
 * without a queue). A body that turns out large while no slot is free is refused at once with
 * 503 BEACON_E_BUSY and Retry-After, rather than waiting: waiting would keep its bytes (and the
 * client's connection) in memory, which is what the bound is there to prevent. Small bodies
 * (pixels, a beacon.js batch, a typical SDK flush) never take a slot.
 */
export interface LargeBodyGate {
  /** Takes a slot; undefined when all are taken. The release function is safe to call twice. */
  tryAcquire(): (() => void) | undefined;
  /** Slots taken now (for tests and metrics). */
  readonly inUse: number;
  readonly capacity: number;
}

export function createLargeBodyGate(capacity: number): LargeBodyGate {
  let inUse = 0;
  return {
    tryAcquire() {
      if (inUse >= capacity) return undefined;
      inUse++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        inUse--;
      };
    },
    get inUse() {
      return inUse;
    },
    capacity,
  };
}
