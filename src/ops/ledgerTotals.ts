import type { Counter } from 'prom-client';
import type { Metrics } from './metrics.js';
import type { LedgerTotals } from './throughputHistory.js';

/** What the intake side counted: events received and refused, over every source. */
export interface IntakeTotals {
  received: number;
  rejected: number;
}

/** Sum of a counter over all its label sets. */
async function total(counter: Counter): Promise<number> {
  let sum = 0;
  for (const v of (await counter.get()).values) sum += v.value;
  return sum;
}

/** This process's intake counters (the single process, or one collector process). */
export async function readIntakeTotals(metrics: Metrics): Promise<IntakeTotals> {
  const [received, rejected] = await Promise.all([total(metrics.eventsReceived), total(metrics.eventsRejected)]);
  return { received, rejected };
}

/**
 * The ledger as the throughput history samples it: intake counts from `intake` (this process,
 * or the collectors' reports in the cluster primary) and delivered per sink from this
 * process's dispatcher counters.
 */
export function ledgerReader(
  metrics: Metrics,
  intake: () => Promise<IntakeTotals> | IntakeTotals,
): () => Promise<LedgerTotals> {
  return async () => {
    const [fromIntake, delivered] = await Promise.all([intake(), metrics.sinkDelivered.get()]);
    const bySink: Record<string, number> = {};
    for (const v of delivered.values) {
      const sink = String(v.labels.sink ?? '');
      bySink[sink] = (bySink[sink] ?? 0) + v.value;
    }
    return { ...fromIntake, delivered: bySink };
  };
}

/**
 * Intake totals reported by collector processes (cluster mode), kept monotonic across a
 * collector's restart: a report lower than the last one from the same partition means its
 * counters started again from zero, so what it had counted before is kept as a base.
 */
export class ReportedIntakeTotals {
  private readonly partitions = new Map<string, { base: IntakeTotals; last: IntakeTotals }>();

  report(partition: string, totals: IntakeTotals): void {
    const known = this.partitions.get(partition);
    if (!known) {
      this.partitions.set(partition, { base: { received: 0, rejected: 0 }, last: { ...totals } });
      return;
    }
    if (totals.received < known.last.received || totals.rejected < known.last.rejected) {
      known.base = {
        received: known.base.received + known.last.received,
        rejected: known.base.rejected + known.last.rejected,
      };
    }
    known.last = { ...totals };
  }

  sum(): IntakeTotals {
    let received = 0;
    let rejected = 0;
    for (const { base, last } of this.partitions.values()) {
      received += base.received + last.received;
      rejected += base.rejected + last.rejected;
    }
    return { received, rejected };
  }
}
