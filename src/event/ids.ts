import { randomBytes } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562): 48-bit ms timestamp then random bits, so ids sort by creation time,
 * which keeps database indexes on the id append-friendly. Random bytes come from a pool
 * because one `randomBytes` call per event is measurable on the pixel hot path.
 */
const POOL_SIZE = 16 * 1024;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

function take10(): Buffer {
  if (poolOffset + 10 > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + 10);
  poolOffset += 10;
  return slice;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(nowMs: number = Date.now()): string {
  const r = take10();
  const b = new Uint8Array(16);
  let t = nowMs;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = 0x70 | (r[0]! & 0x0f);
  b[7] = r[1]!;
  b[8] = 0x80 | (r[2]! & 0x3f);
  for (let i = 9; i < 16; i++) b[i] = r[i - 6]!;
  let s = '';
  for (let i = 0; i < 16; i++) {
    s += HEX[b[i]!]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
  }
  return s;
}
