/**
 * The corruption check's checksum: FNV-1a, 32 bits, over bytes, written as 8 lower-case hex
 * digits. Not a security measure (anyone can recompute it); it catches bodies altered on the
 * way (truncated by a proxy, re-encoded, bit errors) at about a nanosecond per byte.
 * tracker/src/checksum.ts computes the same over a string's UTF-8 bytes; a unit test ties the two.
 */
export function fnv1a32(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function checksumHex(bytes: Uint8Array): string {
  return fnv1a32(bytes).toString(16).padStart(8, '0');
}
