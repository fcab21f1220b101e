import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The SQL stores' metrics. They live beside the readers rather than in src/ops/metrics.ts
 * because a reader is opened by whoever runs the API and is handed only a registry; each
 * metric is fetched from the registry when already there, so a second reader (a reopen, a
 * test) shares the series instead of failing on a duplicate name.
 *
 * - `beacon_store_queries_total{role, target, outcome}`: queries per server; `role` is
 *   `writer` or `replica`, `target` is host:port/database (no credentials), `outcome` is
 *   `ok` or `failed`. Replica reads and writer fallbacks show side by side.
 * - `beacon_store_replica_up{target}`: 1 while a replica takes reads, 0 while it is out.
 * - `beacon_store_query_seconds{role}`: duration of queries that succeeded.
 */
export interface StoreMetrics {
  queries: Counter<'role' | 'target' | 'outcome'>;
  replicaUp: Gauge<'target'>;
  querySeconds: Histogram<'role'>;
}

export function storeMetrics(registry: Registry = new Registry()): StoreMetrics {
  return {
    queries:
      existing(registry, 'beacon_store_queries_total') ??
      new Counter({
        name: 'beacon_store_queries_total',
        help: 'Store queries per server (writer or replica) and outcome',
        labelNames: ['role', 'target', 'outcome'],
        registers: [registry],
      }),
    replicaUp:
      existing(registry, 'beacon_store_replica_up') ??
      new Gauge({
        name: 'beacon_store_replica_up',
        help: '1 while a read replica takes reads, 0 while it is out after a failure',
        labelNames: ['target'],
        registers: [registry],
      }),
    querySeconds:
      existing(registry, 'beacon_store_query_seconds') ??
      new Histogram({
        name: 'beacon_store_query_seconds',
        help: 'Duration of one store query that succeeded',
        labelNames: ['role'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
  };
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}
