/**
 * A byte count in binary units, for the CLI, the alert messages and the web page
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

/** `n` bytes as text for people, one decimal past bytes: 1536 is `1.5 KiB` (the CLI's tables, alert messages). */
export function formatBytes(n: number): string {
  const { value, unit } = scaleBytes(n);
  return `${value.toFixed(unit === 'B' ? 0 : 1)} ${unit}`;
}
