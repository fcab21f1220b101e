import { jsonResponse } from './adminRequest.js';
import type { ApiRoute } from './route.js';

/** What the operations endpoints read; every role serves them. */
export interface OpsDeps {
  /** Prometheus text for /metrics: this process's registry, or the cluster's aggregate. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** True once this process serves what it is for (log and sinks open, or the store reachable), false while draining. */
  ready(): boolean;
}

/**
 * `GET /metrics` and `GET /readyz`: open to anyone (scope `none`) and never cached, so load
 * balancers and Prometheus need no token. (`/healthz` is answered by the HTTP adapter itself,
 * before any forwarding, so it reports the process that received it.)
 */
export function opsRoutes(deps: OpsDeps): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      class: 'ops',
      scope: 'none',
      summary: 'Prometheus metrics',
      async handle() {
        const m = await deps.metrics();
        return { status: 200, headers: { 'content-type': m.contentType, 'cache-control': 'no-store' }, body: m.body };
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      class: 'ops',
      scope: 'none',
      summary: 'Readiness: 200 when ready to serve, 503 while starting or draining',
      async handle() {
        const ready = deps.ready();
        return jsonResponse(ready ? 200 : 503, { ready });
      },
    },
  ];
}
