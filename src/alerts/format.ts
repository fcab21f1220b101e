/** A span of time as people write it in a message: `45s`, `5m`, `5m 3s`, `1h 5m`, `2d 3h`. */
export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const parts: [number, string][] =
    s < 3600
      ? [
          [Math.floor(s / 60), 'm'],
          [s % 60, 's'],
        ]
      : s < 86_400
        ? [
            [Math.floor(s / 3600), 'h'],
            [Math.floor((s % 3600) / 60), 'm'],
          ]
        : [
            [Math.floor(s / 86_400), 'd'],
            [Math.floor((s % 86_400) / 3600), 'h'],
          ];
  return parts
    .filter(([n], i) => i === 0 || n > 0)
    .map(([n, unit]) => `${n}${unit}`)
    .join(' ');
}

/** A rate with at most one decimal, so a message never says 0.333333/min. */
export function formatRate(perMinute: number): string {
  return `${Math.round(perMinute * 10) / 10}/min`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
