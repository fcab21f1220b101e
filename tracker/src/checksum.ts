/**
 * FNV-1a 32 of the UTF-8 bytes of `text`, as 8 hex digits: the `cs` the collector checks
 * (src/enrich/checksum.ts does the same over the bytes it receives; a unit test ties the two).
 */
export function checksum(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}
