import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Metrics } from '../ops/metrics.js';
import type { IntakeCounters } from './rules/rule.js';

export type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/**
 * The counters the alert rules read, summed over metric snapshots from one or more processes
 * (this one, and in the cluster primary each collector's registry as /metrics aggregates them).
 */
export function intakeCountersFrom(snapshots: readonly (readonly MetricJson[])[]): IntakeCounters {
  let appended = 0;
  const httpRejected: Record<string, number> = {};
  for (const metrics of snapshots) {
    for (const metric of metrics) {
      if (metric.name === 'beacon_events_appended_total') {
        for (const v of metric.values) appended += v.value;
      } else if (metric.name === 'beacon_events_rejected_total') {
        for (const v of metric.values) {
          if (v.labels.source !== 'http') continue;
          const code = String(v.labels.code ?? '');
          httpRejected[code] = (httpRejected[code] ?? 0) + v.value;
        }
      }
    }
  }
  return { appended, httpRejected };
}

/** The two counters the rules read, from this process's registry. */
export async function ownIntakeSnapshot(metrics: Metrics): Promise<MetricJson[]> {
  return (await Promise.all([metrics.eventsAppended.get(), metrics.eventsRejected.get()])) as MetricJson[];
}

/** This process's own intake counters (the single process, where intake and dispatcher live together). */
export async function ownIntakeCounters(metrics: Metrics): Promise<IntakeCounters> {
  return intakeCountersFrom([await ownIntakeSnapshot(metrics)]);
}
