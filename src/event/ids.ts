import { randomBytes } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562): 48-bit ms timestamp then random bits, so ids sort by creation time,
 * which keeps database indexes on the id append-friendly.
 *
 * This runs once per event on the collector's hot path, so it works on hex text, not bytes:
 * random bits come from a pool that is hex-encoded once per 8 KiB (one `randomBytes` and one
 * `toString('hex')` per ~800 ids), and the timestamp's hex is kept for the millisecond.
 * Building the string from a few slices costs a fraction of sixteen per-byte lookups.
 */
const POOL_BYTES = 8 * 1024;
/** Hex digits per id taken from the pool: 3 + 1 + 3 + 12 (the rest are version and variant). */
const RANDOM_DIGITS = 19;
let pool = '';
let poolOffset = 0;

function takeRandomHex(): string {
  if (poolOffset + RANDOM_DIGITS > pool.length) {
    pool = randomBytes(POOL_BYTES).toString('hex');
    poolOffset = 0;
  }
  const hex = pool.slice(poolOffset, poolOffset + RANDOM_DIGITS);
  poolOffset += RANDOM_DIGITS;
  return hex;
}

/** The variant digit holds `10` then two random bits: 8, 9, a or b. */
const VARIANT = '89ab89ab89ab89ab';

let lastMs = -1;
/** `tttttttt-tttt-7` for lastMs. */
let lastPrefix = '';

export function uuidv7(nowMs: number = Date.now()): string {
  if (nowMs !== lastMs) {
    // 48 bits: below 2^53, so exact in a double; times before 1970 or past 10889 do not occur.
    const t = Math.max(0, Math.min(Math.floor(nowMs), 0xffffffffffff))
      .toString(16)
      .padStart(12, '0');
    lastPrefix = `${t.slice(0, 8)}-${t.slice(8, 12)}-7`;
    lastMs = nowMs;
  }
  const r = takeRandomHex();
  return `${lastPrefix}${r.slice(0, 3)}-${VARIANT[parseInt(r[3]!, 16)]}${r.slice(4, 7)}-${r.slice(7, 19)}`;
}
