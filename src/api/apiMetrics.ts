import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The API's metrics, on the process's registry. Labels stay low-cardinality: the endpoint
 * class, the status code and the cache result, never the path or the caller.
 * Defined here rather than in ops/metrics.ts because only the process that serves the API
 * registers them; `getSingleMetric` makes a second router on the same registry reuse them.
 */
export function createApiMetrics(registry: Registry) {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] });
  const gauge = (name: string, help: string) =>
    (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [registry] });
  return {
    requests: counter('beacon_api_requests_total', 'API requests answered, per endpoint class and HTTP status', [
      'class',
      'status',
    ]),
    requestSeconds:
      (registry.getSingleMetric('beacon_api_request_seconds') as Histogram<'class'> | undefined) ??
      new Histogram({
        name: 'beacon_api_request_seconds',
        help: 'Time to answer an API request, per endpoint class (cache hits included)',
        labelNames: ['class'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
    cacheLookups: counter(
      'beacon_api_cache_requests_total',
      'Cacheable API requests by result: hit (kept answer), miss (backend queried), coalesced (waited for an identical request in flight)',
      ['class', 'result'],
    ),
    cacheEntries: gauge('beacon_api_cache_entries', 'Answers kept in the API micro-cache'),
    cacheBytes: gauge('beacon_api_cache_bytes', 'Bytes of answers kept in the API micro-cache'),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
