import type { LoadedConfig } from '../config/load.js';
import { runApiRole } from './apiRole.js';
import { runBeacon } from './run.js';
import { runCollectorRole } from './collectorRole.js';
import { runDispatcherRole } from './dispatcherRole.js';

/**
 * What `beacon start --role` runs. `all` is every part in one place (the default); `collector`
 * and `dispatcher` split intake and delivery into processes that meet through a shared log
 * (`log.type: jetstream`); `api` only the query API over a server store.
 */
export const ROLES = ['all', 'collector', 'dispatcher', 'api'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_SUMMARY: Record<Role, string> = {
  all: 'collector, log, dispatcher, store, API, live stream and web page',
  collector: 'the HTTP collector and queue sources appending to a shared log (log.type jetstream), with /live and /metrics',
  dispatcher: "every sink's delivery loop over a shared log (log.type jetstream), with the admin API and /metrics; several share the work",
  api: 'only the query API (and /metrics, /readyz) over store.type postgres, mysql or clickhouse',
};

export async function runRole(role: Role, loaded: LoadedConfig): Promise<void> {
  switch (role) {
    case 'all':
      return runBeacon(loaded);
    case 'collector':
      return runCollectorRole(loaded.config);
    case 'dispatcher':
      return runDispatcherRole(loaded.config);
    case 'api':
      return runApiRole(loaded.config);
  }
}
