import { randomBytes } from 'node:crypto';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';
import type { EnrichStep } from './step.js';

/**
 * A Bloom filter over 64 bits of a hash (two 32-bit halves h1, h2), probed with double
 * hashing: bit i is (h1 + i * h2) mod m (Kirsch & Mitzenmacher), so one hash per item is enough.
 * Sized for `expectedItems` at `falsePositiveRate`: m = -n ln p / (ln 2)^2 bits, k = m/n ln 2.
 */
export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  private readonly words: Uint32Array;

  constructor(expectedItems: number, falsePositiveRate: number) {
    const n = Math.max(1, expectedItems);
    const m = Math.ceil((-n * Math.log(falsePositiveRate)) / (Math.LN2 * Math.LN2));
    this.bits = Math.max(64, m);
    this.hashes = Math.max(1, Math.round((this.bits / n) * Math.LN2));
    this.words = new Uint32Array(Math.ceil(this.bits / 32));
  }

  has(h1: number, h2: number): boolean {
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.bits;
      if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  add(h1: number, h2: number): void {
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.bits;
      this.words[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  clear(): void {
    this.words.fill(0);
  }
}

/** Per process, so nobody can craft inputs that collide with other clients' requests. */
const SEED = randomBytes(4).readUInt32LE(0);

/**
 * A 64-bit hash of `key` as two 32-bit halves (cyrb53's mixing, seeded; h2 made odd so
 * probes cycle through the whole filter). Not cryptographic, and it need not be: only Bloom
 * bits are kept, and it costs about a fifth of a SHA-256 through node:crypto on the pixel path.
 */
export function hashPair(key: string): [number, number] {
  let h1 = 0xdeadbeef ^ SEED;
  let h2 = 0x41c6ce57 ^ SEED;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, (h2 | 1) >>> 0];
}

/**
 * A bounded memory of recent items: two Bloom filters, `current` and `previous`. New items go
 * into `current`; once it holds `expectedItems`, it becomes `previous` and an empty filter takes
 * its place. So the last 1 to 2 x `expectedItems` distinct items are remembered, in fixed memory.
 * Each filter is sized for half the rate, so an item seen in neither is wrongly reported at
 * most `falsePositiveRate` of the time.
 */
export class RequestMemory {
  private current: BloomFilter;
  private previous: BloomFilter;
  private count = 0;

  constructor(
    private readonly expectedItems: number,
    falsePositiveRate: number,
  ) {
    this.current = new BloomFilter(expectedItems, falsePositiveRate / 2);
    this.previous = new BloomFilter(expectedItems, falsePositiveRate / 2);
  }

  /** True when `key` was (probably) seen before; remembers it either way. */
  seen(key: string): boolean {
    const pair = hashPair(key);
    const before = this.has(pair);
    this.add(pair);
    return before;
  }

  /** True when the hashed item was (probably) remembered. */
  has([h1, h2]: readonly [number, number]): boolean {
    return this.current.has(h1, h2) || this.previous.has(h1, h2);
  }

  /** Remembers a hashed item, rotating the filters when the current one is full. */
  add([h1, h2]: readonly [number, number]): void {
    if (this.current.has(h1, h2)) return;
    if (this.count >= this.expectedItems) {
      const old = this.previous;
      this.previous = this.current;
      old.clear();
      this.current = old;
      this.count = 0;
    }
    this.current.add(h1, h2);
    this.count++;
  }
}

/**
 * The fingerprint of a request: type, the full client IP (this step runs before anonymisation;
 * only the hash is kept), user agent, props as JSON and the client time. The event id is left
 * out: a pixel's id is made by the server for every request.
 */
export function requestFingerprint(event: TrackedEvent): string {
  let props = '';
  try {
    props = JSON.stringify(event.props) ?? '';
  } catch {
    // A props value JSON cannot write (a cycle from a queue decoder): fingerprint without it.
  }
  return `${String(event.type)}\u0000${String(event.ip ?? '')}\u0000${String(event.ua ?? '')}\u0000${props}\u0000${String(event.clientTs ?? '')}`;
}

/**
 * `meta.duplicate = true` when an event's request fingerprint is in the short-term memory
 * (Divolte's duplicate memory): a page reloaded from cache, a client retrying a request whose
 * answer it lost. Probabilistic: a new event is wrongly flagged with `falsePositiveRate`; a
 * repeat is always flagged while it is remembered. Skips events already flagged by the id tier.
 */
export function requestMemoryStep(options: {
  expectedItems: number;
  falsePositiveRate: number;
  metrics?: Metrics;
}): EnrichStep {
  const memory = new RequestMemory(options.expectedItems, options.falsePositiveRate);
  // Fingerprints wait here until their batch is durable: a batch the log refused is retried by
  // the client, and that retry is not a repeat. `inBatch` catches repeats within one batch.
  const pending = new WeakMap<TrackedEvent, readonly [number, number]>();
  const inBatch = new Set<string>();
  let found = 0;
  return {
    name: 'requests',
    apply(event: TrackedEvent): void {
      if (event.meta.duplicate === true) return;
      const pair = hashPair(requestFingerprint(event));
      const key = `${pair[0]},${pair[1]}`;
      if (memory.has(pair) || inBatch.has(key)) {
        event.meta.duplicate = true;
        found++;
        return;
      }
      inBatch.add(key);
      pending.set(event, pair);
    },
    flush(): void {
      inBatch.clear();
      if (found > 0) options.metrics?.enrichDuplicates.inc({ tier: 'request' }, found);
      found = 0;
    },
    settled(events: readonly TrackedEvent[], durable: boolean): void {
      for (const event of events) {
        const pair = pending.get(event);
        if (pair === undefined) continue;
        pending.delete(event);
        if (durable) memory.add(pair);
      }
    },
  };
}
