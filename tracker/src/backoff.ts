const FIRST_MS = 1000;
const MAX_MS = 5 * 60_000;

/**
 * How long to wait before retry number `failures` (1, 2, ...): doubling from 1 s to at most
 * 5 min, at least the server's Retry-After, and jittered (50-100 %) so the pages that lost the
 * network together do not all come back at the same instant.
 */
export function retryDelay(failures: number, retryAfterMs = 0, random: number = Math.random()): number {
  const base = Math.min(MAX_MS, FIRST_MS * 2 ** Math.min(failures - 1, 20));
  return Math.max(retryAfterMs, Math.round(base / 2 + (base / 2) * random));
}
