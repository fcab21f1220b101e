/** How a delivery ended: done (delivered or dead-lettered), the sink went fatal, or the loop is stopping. */
export type DeliveryOutcome = 'ok' | 'fatal' | 'stopped';

interface InFlightBatch {
  outcome: DeliveryOutcome | undefined;
  commit: () => void;
  settled: Promise<void>;
}

/**
 * The batches a sink loop took from its cursor and has not committed, in log order, when the
 * sink takes several at once (`batch.inFlight`). Each is delivered on its own, with its own
 * retries; a batch's `commit` runs only once it and every batch before it ended `ok`, so the
 * cursor never passes an event not yet delivered or dead-lettered, whichever batch finishes
 * first. A batch that ends otherwise (fatal, stopping) holds every later one uncommitted: a
 * restart delivers them again.
 */
export class InFlightWindow {
  private readonly batches: InFlightBatch[] = [];
  private ended: DeliveryOutcome | undefined;
  private waiters: (() => void)[] = [];

  /** `limit`: the most batches taken and not committed; `onEmpty` runs when the last one is committed. */
  constructor(
    readonly limit: number,
    private readonly onEmpty: () => void = () => {},
  ) {}

  /** Batches taken and not yet committed (delivering, or done and waiting for an earlier one). */
  get size(): number {
    return this.batches.length;
  }

  /** Adds the next batch in log order; `delivery` must not reject (a crash is an outcome, `fatal`). */
  add(delivery: Promise<DeliveryOutcome>, commit: () => void): void {
    const batch: InFlightBatch = { outcome: undefined, commit, settled: Promise.resolve() };
    batch.settled = delivery.then((outcome) => {
      batch.outcome = outcome;
      if (outcome !== 'ok') this.ended ??= outcome;
      this.commitDone();
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.batches.push(batch);
  }

  /**
   * Resolves `ok` once fewer than `limit` batches are uncommitted, or at once with how the
   * first delivery that did not end `ok` ended (the loop then takes no more batches).
   */
  async room(): Promise<DeliveryOutcome> {
    while (this.ended === undefined && this.batches.length >= this.limit) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.ended ?? 'ok';
  }

  /** Resolves when every delivery added so far has ended (and what could be committed was). */
  async drained(): Promise<void> {
    await Promise.all(this.batches.map((b) => b.settled));
  }

  private commitDone(): void {
    let committed = false;
    while (this.batches[0]?.outcome === 'ok') {
      this.batches.shift()!.commit();
      committed = true;
    }
    if (committed && this.batches.length === 0) this.onEmpty();
  }
}
