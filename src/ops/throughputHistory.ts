/**
 * Events per second over the last 15 minutes (by default), for the web page's throughput chart
 * and `GET /api/v1/throughput`.
 *
 * Promises it keeps:
 * 1. Memory is fixed at start: one slot per second for `slots` seconds, per series (received,
 *    rejected, delivered per sink), in typed arrays reused as a ring. Nothing grows with
 *    traffic or uptime.
 * 2. The history is built from the metrics ledger's counters (monotonic totals), never from
 *    a separate count, so the chart and `/metrics` cannot disagree: the sum of a series over
 *    its window is the counter's increase over that window.
 * 3. A late sample (a blocked event loop) spreads its increase evenly over the seconds it
 *    covers instead of drawing one spike; seconds before the first sample are "no data"
 *    (`null`), not zero.
 */

/** Monotonic totals read from the ledger at one moment. */
export interface LedgerTotals {
  received: number;
  rejected: number;
  /** Delivered per sink name. */
  delivered: Readonly<Record<string, number>>;
}

/** One window of the history, oldest second first. `null`: no sample covered that second. */
export interface ThroughputWindow {
  /** Width of one slot. */
  intervalMs: number;
  /** Start (epoch ms) of the newest complete second in the arrays. */
  end: number;
  received: (number | null)[];
  rejected: (number | null)[];
  /** All sinks added up. */
  delivered: (number | null)[];
  deliveredBySink: Record<string, (number | null)[]>;
}

const SECOND = 1000;
/** Marks a slot no sample covered (the typed arrays cannot hold null). */
const EMPTY = -1;

export class ThroughputHistory {
  private readonly received: Float64Array;
  private readonly rejected: Float64Array;
  private readonly bySink = new Map<string, Float64Array>();
  /** Second (epoch s) of each slot's value, so a stale slot from a previous lap reads as empty. */
  private readonly slotSecond: Float64Array;
  private last: { second: number; totals: LedgerTotals } | undefined;

  constructor(
    sinks: readonly string[],
    readonly slots = 900,
  ) {
    this.received = new Float64Array(slots).fill(EMPTY);
    this.rejected = new Float64Array(slots).fill(EMPTY);
    this.slotSecond = new Float64Array(slots).fill(EMPTY);
    for (const name of sinks) this.bySink.set(name, new Float64Array(slots).fill(EMPTY));
  }

  /**
   * Takes the ledger's totals at `now`. The increase since the previous sample is spread over
   * the whole seconds between the two; the first sample only sets the baseline.
   */
  record(totals: LedgerTotals, now: number): void {
    const second = Math.floor(now / SECOND);
    const prev = this.last;
    if (prev && second <= prev.second) return;
    this.last = {
      second,
      totals: { received: totals.received, rejected: totals.rejected, delivered: { ...totals.delivered } },
    };
    if (!prev) return;
    // Covering more than the window only rewrites every slot; cap the loop at one lap.
    const span = second - prev.second;
    const from = Math.max(prev.second, second - this.slots);
    const perSecond = (now: number, before: number) => Math.max(0, now - before) / span;
    const received = perSecond(totals.received, prev.totals.received);
    const rejected = perSecond(totals.rejected, prev.totals.rejected);
    for (let s = from; s < second; s++) {
      const i = this.index(s);
      this.slotSecond[i] = s;
      this.received[i] = received;
      this.rejected[i] = rejected;
      for (const [name, series] of this.bySink) {
        series[i] = perSecond(totals.delivered[name] ?? 0, prev.totals.delivered[name] ?? 0);
      }
    }
  }

  /**
   * The last `seconds` seconds (at most `slots`), ending with the newest second a sample has
   * covered (the one before `now`'s at best), so the newest point is never a gap merely because
   * the next sample is due.
   */
  window(now: number, seconds = this.slots): ThroughputWindow {
    const count = Math.max(1, Math.min(this.slots, Math.floor(seconds)));
    const newest = Math.min(Math.floor(now / SECOND), this.last?.second ?? Infinity) - 1;
    const pick = (series: Float64Array, s: number): number | null => {
      const i = this.index(s);
      return this.slotSecond[i] === s && series[i]! >= 0 ? round(series[i]!) : null;
    };
    const received: (number | null)[] = [];
    const rejected: (number | null)[] = [];
    const delivered: (number | null)[] = [];
    const deliveredBySink: Record<string, (number | null)[]> = {};
    for (const name of this.bySink.keys()) deliveredBySink[name] = [];
    for (let s = newest - count + 1; s <= newest; s++) {
      received.push(pick(this.received, s));
      rejected.push(pick(this.rejected, s));
      let sum: number | null = null;
      for (const [name, series] of this.bySink) {
        const v = pick(series, s);
        deliveredBySink[name]!.push(v);
        if (v !== null) sum = (sum ?? 0) + v;
      }
      // With no sinks, "delivered" is 0 wherever the intake has data, not a gap.
      delivered.push(
        this.bySink.size === 0 ? (pick(this.received, s) === null ? null : 0) : sum === null ? null : round(sum),
      );
    }
    return { intervalMs: SECOND, end: newest * SECOND, received, rejected, delivered, deliveredBySink };
  }

  private index(second: number): number {
    return ((second % this.slots) + this.slots) % this.slots;
  }
}

/** Two decimals: a spread-out increase is fractional, and the chart needs no more. */
function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * Samples `read()` into `history` once a second until stopped. A read that fails (the ledger
 * is being torn down) is skipped: the next sample covers the gap.
 */
export function startThroughputSampler(
  history: ThroughputHistory,
  read: () => Promise<LedgerTotals> | LedgerTotals,
  now: () => number = Date.now,
  everyMs = SECOND,
): { stop(): void } {
  let busy = false;
  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      history.record(await read(), now());
    } catch {
      // Skipped on purpose (see above).
    } finally {
      busy = false;
    }
  };
  void sample();
  const timer = setInterval(() => void sample(), everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
