import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Sets how far V8 lets its old generation grow past the live data before the next full
 * collection (`server.heapGrowthPercent`, V8's `--heap-growing-percent`), then runs one full
 * collection so the new factor applies at once.
 *
 * Why: on a machine with much memory V8 lets the old generation grow to up to 4x the live
 * data between full collections, and computes that limit at every full collection. Measured in
 * the 120 s sink-outage test (3000 events/s, test/reliability/sinkOutage.test.ts): with V8's own
 * factor the old generation grew from 54 to 121 MiB over 90 s with a flat live heap (a heap
 * snapshot after the outage held 1.3 MB more than before it) before a full collection brought
 * it back to 68 MiB, and RSS followed (+67 MiB). V8 reads the flag when it computes the next
 * limit, so setting it alone waits for a full collection whose limit was set with the old
 * factor (up to 4x the startup heap); the one collection here, ~40 ms at startup, avoids that.
 * A pod with a memory limit gets a smaller heap from Node anyway (it sizes the heap from the
 * cgroup); this makes bare metal and containers behave alike.
 *
 * 0 leaves V8's own choice.
 */
export function applyHeapGrowth(percent: number): void {
  if (percent <= 0) return;
  setFlagsFromString(`--heap-growing-percent=${Math.trunc(percent)}`);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
}
