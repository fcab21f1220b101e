/**
 * How much a counter grew over the last `windowMs`, from the samples the rounds give it.
 *
 * The counters come from processes that may restart (a collector's counters start again from
 * zero), so a sample lower than the previous one is taken as a restart: it adds nothing, and the
 * next increase counts from the new value. The first sample is only a baseline; growth before
 * it is not seen.
 */
export class CounterWindow {
  /** Samples of the running increase, oldest first; the oldest may lie just before the window. */
  private samples: { at: number; total: number }[] = [];
  private lastRaw: number | undefined;
  private total = 0;

  constructor(private readonly windowMs: number) {}

  add(at: number, raw: number): void {
    if (this.lastRaw !== undefined && raw > this.lastRaw) this.total += raw - this.lastRaw;
    this.lastRaw = raw;
    this.samples.push({ at, total: this.total });
    // Keep one sample at or before the window's start, so the window is covered whole.
    while (this.samples.length > 1 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  /** Growth from the oldest sample in (or just before) the window to the newest. */
  increase(): number {
    if (this.samples.length === 0) return 0;
    return this.samples[this.samples.length - 1]!.total - this.samples[0]!.total;
  }

  /** `increase()` per minute of the configured window. */
  perMinute(): number {
    return this.increase() / (this.windowMs / 60_000);
  }
}
