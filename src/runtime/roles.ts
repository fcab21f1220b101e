import type { LoadedConfig } from '../config/load.js';

/**
 * What `beacon start --role` runs. `all` is every part in one place (the default); `collector`
 * and `dispatcher` split intake and delivery into processes that meet through a shared log
 * (`log.type: jetstream`); `api` only the query API over a server store. Each is a choice of
 * parts: see assemble.ts.
 */
export const ROLES = ['all', 'collector', 'dispatcher', 'api'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_SUMMARY: Record<Role, string> = {
  all: 'collector, log, dispatcher, store, API, live stream and web page',
  collector:
    'the HTTP collector and queue sources appending to a shared log (log.type jetstream), with /live and /metrics',
  dispatcher:
    "every sink's delivery loop over a shared log (log.type jetstream), with the admin API and /metrics; several share the work",
  api: 'only the query API (and /metrics, /readyz) over store.type postgres, mysql or clickhouse',
};

/**
 * Loads only what the role runs (a process, or a thread of it, that does not deliver never
 * loads the sinks' and the store's code for nothing).
 */
export async function runRole(role: Role, loaded: LoadedConfig): Promise<void> {
  switch (role) {
    case 'all':
      return (await import('./run.js')).runBeacon(loaded);
    case 'collector':
      return (await import('./assemble.js')).runCollectorRole(loaded.config);
    case 'dispatcher':
      return (await import('./assemble.js')).runDispatcherRole(loaded.config);
    case 'api':
      return (await import('./assemble.js')).runApiRole(loaded.config);
  }
}
