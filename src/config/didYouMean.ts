/** Levenshtein distance, small and exact: config keys are short. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest known key, when it is close enough to be a plausible typo. */
export function didYouMean(unknown: string, known: readonly string[]): string | undefined {
  const lower = unknown.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const key of known) {
    const d = key.toLowerCase() === lower ? 0 : distance(lower, key.toLowerCase());
    if (!best || d < best.d) best = { key, d };
  }
  if (!best) return undefined;
  return best.d <= Math.max(2, Math.floor(unknown.length / 3)) ? best.key : undefined;
}
