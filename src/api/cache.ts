import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../ops/clock.js';
import type { AdminResponse } from './adminRequest.js';

/**
 * The API's in-process micro-cache. Promises it keeps:
 * - Identical concurrent requests are coalesced: while an answer for a key is being made,
 *   every other request for that key waits for it, so N simultaneous requests cost one
 *   backend query (even with a TTL of 0).
 * - Only `200` answers are kept, each for the TTL it was stored with, measured on `clock`;
 *   a kept answer is never served after it expired.
 * - Size is bounded: at most `maxEntries` answers and `maxBytes` bytes of body and key; the
 *   least recently used go first, and an answer bigger than the whole budget is not kept.
 *
 * The key is the request (method, path, query) and nothing about the caller: answers of the
 * query endpoints do not differ per token (the scope is checked before the cache is asked), so
 * one cached answer serves every caller allowed to see it.
 */

export interface CachedAnswer {
  response: AdminResponse;
  /** Strong validator: a hash of the body. */
  etag: string;
  /** When the answer was made and until when it may be served (clock ms). */
  storedAt: number;
  expiresAt: number;
}

export type CacheResult = 'hit' | 'miss' | 'coalesced';

export interface ResponseCacheOptions {
  maxEntries: number;
  maxBytes: number;
  clock?: Clock;
}

export class ResponseCache {
  private readonly entries = new Map<string, { answer: CachedAnswer; bytes: number }>();
  private readonly inflight = new Map<string, Promise<CachedAnswer>>();
  private bytes = 0;
  private readonly clock: Clock;

  constructor(private readonly options: ResponseCacheOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  /**
   * The kept answer for `key` while fresh, else the one being made, else a new one from
   * `produce` (kept for `ttlMs` when it is a 200 and `ttlMs` > 0).
   */
  async get(
    key: string,
    ttlMs: number,
    produce: () => Promise<AdminResponse>,
  ): Promise<{ answer: CachedAnswer; result: CacheResult }> {
    const kept = this.entries.get(key);
    if (kept) {
      if (this.clock.now() < kept.answer.expiresAt) {
        // Re-inserting moves the key to the end: Map order is the LRU order.
        this.entries.delete(key);
        this.entries.set(key, kept);
        return { answer: kept.answer, result: 'hit' };
      }
      this.remove(key);
    }
    const pending = this.inflight.get(key);
    if (pending) return { answer: await pending, result: 'coalesced' };
    const making = this.make(key, ttlMs, produce);
    this.inflight.set(key, making);
    try {
      return { answer: await making, result: 'miss' };
    } finally {
      this.inflight.delete(key);
    }
  }

  private async make(key: string, ttlMs: number, produce: () => Promise<AdminResponse>): Promise<CachedAnswer> {
    const response = await produce();
    const storedAt = this.clock.now();
    const answer: CachedAnswer = {
      response,
      etag: etagOf(response.body),
      storedAt,
      expiresAt: storedAt + Math.max(0, ttlMs),
    };
    if (response.status === 200 && ttlMs > 0) this.keep(key, answer);
    return answer;
  }

  private keep(key: string, answer: CachedAnswer): void {
    const bytes = Buffer.byteLength(answer.response.body) + key.length;
    if (bytes > this.options.maxBytes || this.options.maxEntries === 0) return;
    this.remove(key);
    this.entries.set(key, { answer, bytes });
    this.bytes += bytes;
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.options.maxEntries && this.bytes <= this.options.maxBytes) break;
      this.remove(oldest);
    }
  }

  private remove(key: string): void {
    const kept = this.entries.get(key);
    if (!kept) return;
    this.entries.delete(key);
    this.bytes -= kept.bytes;
  }
}

/** The cache key of a request: method, path and the query with its keys sorted. */
export function cacheKey(method: string, path: string, query: Readonly<Record<string, string>>): string {
  const params = new URLSearchParams(
    Object.keys(query)
      .sort()
      .map((k) => [k, query[k]!]),
  );
  const text = params.toString();
  return `${method} ${path}${text ? `?${text}` : ''}`;
}

/** A strong ETag: the first 128 bits of the body's SHA-256. */
export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** `If-None-Match` holds `etag` (or `*`); weak and strong forms both match, as RFC 9110 asks for this header. */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === bare;
  });
}
