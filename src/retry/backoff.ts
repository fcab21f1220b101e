/**
 * Exponential back-off with full jitter (AWS "Exponential Backoff and Jitter"): attempt n
 * waits a random time in [0, min(max, initial * 2^n)]. Once the ceiling reaches `max` the
 * sink is probed at exactly `max` (the Canopsis dispatcher's max_failover_duration), forever:
 * a sink that is down never makes the dispatcher give up or drop events.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failed attempts since the last success. */
  get attempts(): number {
    return this.attempt;
  }

  /** The wait before the next attempt; a server's Retry-After is honoured up to `max`. */
  next(retryAfterMs?: number): number {
    const ceiling = this.initialMs * 2 ** Math.min(this.attempt, 52);
    this.attempt++;
    const delay = ceiling >= this.maxMs ? this.maxMs : Math.round(this.random() * ceiling);
    return retryAfterMs === undefined ? delay : Math.min(this.maxMs, Math.max(delay, retryAfterMs));
  }

  reset(): void {
    this.attempt = 0;
  }
}
