/**
 * A byte count in binary units, for the CLI (src/cli/table.ts) and the web page
 * (web/src/format.ts), which each round the value their own way. Pure and import-free: the
 * web page's bundle (scripts/build-web.mjs) includes this file, so it must not use Node.
 */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `n` bytes as a value below 1024 (unless past TiB) and its unit: 1536 is `{ value: 1.5, unit: 'KiB' }`. */
export function scaleBytes(n: number): { value: number; unit: (typeof UNITS)[number] } {
  let value = n;
  let i = 0;
  while (value >= 1024 && i < UNITS.length - 1) {
    value /= 1024;
    i++;
  }
  return { value, unit: UNITS[i]! };
}
