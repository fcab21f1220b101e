/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven with slicing-by-8.
 *
 * Follows the zlib convention for continuation: `crc32c(b, crc32c(a)) === crc32c(a ++ b)`,
 * which the record format uses to finish a payload's checksum with its header fields later.
 */
const POLY = 0x82f63b78;

/** 8 tables of 256 entries: T[k][b] is the CRC of byte b followed by k zero bytes. */
const TABLE = new Int32Array(8 * 256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  TABLE[b] = c;
}
for (let b = 0; b < 256; b++) {
  let c = TABLE[b]!;
  for (let t = 1; t < 8; t++) {
    c = TABLE[c & 0xff]! ^ (c >>> 8);
    TABLE[t * 256 + b] = c;
  }
}

/** CRC32C of `buf[start, end)`, continuing from `previous` (the CRC of the bytes before). */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, previous = 0): number {
  const t = TABLE;
  let c = ~previous;
  let i = start;
  // Byte at a time until 8 bytes remain aligned in count (alignment in memory does not matter in JS).
  const fast = end - ((end - i) & 7);
  for (; i < fast; i += 8) {
    const lo = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + buf[i + 4]!]! ^
      t[512 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
