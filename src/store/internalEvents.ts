import { defineInternalEvent, type InternalEventInfo } from '../ops/internalEvent.js';
import type { EmbeddedStoreMetrics } from './embedded/storeMetrics.js';
import type { StoreMetrics } from './sql/storeMetrics.js';

/**
 * The query stores' internal events, each defined once (docs/operations.md lists them). The
 * embedded store's logger names it (`store: "embedded"`); replicas are named by
 * `host:port/database`, never with credentials.
 */

const storeOpened = defineInternalEvent<{ path: string }>('store_opened', {
  about: "the embedded store's file is open",
  level: 'info',
  fields: { path: true },
  message: 'embedded store open',
});

interface RetentionRun {
  deletedByAge: number;
  deletedBySize: number;
  fileBytes: number;
  usedBytes: number;
  ms: number;
}
const storeRetention = defineInternalEvent<RetentionRun, EmbeddedStoreMetrics>('store_retention', {
  about: 'a retention run deleted events (by `maxAge`, then by `maxBytes`)',
  level: 'info',
  fields: { deletedByAge: true, deletedBySize: true, fileBytes: true, usedBytes: true, ms: true },
  message: (f) => `store retention deleted ${f.deletedByAge + f.deletedBySize} events`,
  metric: {
    name: 'beacon_store_embedded_deleted_total{reason="age"|"size"}',
    record: (m, f) => {
      if (f.deletedByAge > 0) m.retentionDeleted.inc({ reason: 'age' }, f.deletedByAge);
      if (f.deletedBySize > 0) m.retentionDeleted.inc({ reason: 'size' }, f.deletedBySize);
    },
  },
});

const storeRetentionFailed = defineInternalEvent<{ err: unknown }>('store_retention_failed', {
  about: 'a retention run failed; it runs again at the next interval',
  level: 'error',
  fields: { err: true },
  message: 'store retention failed; it runs again at the next interval',
});

/** The context is the store's kind (`postgres`, `mysql`). */
const storeReplicaDown = defineInternalEvent<{ replica: string; err: string; probeInMs: number }, StoreMetrics, string>(
  'store_replica_down',
  {
    about: 'a read replica failed a read; out of the rotation until a probe (every `probeInMs`, backing off) succeeds',
    level: 'warn',
    fields: { replica: true, err: true, probeInMs: true },
    message: (f, kind) =>
      `${kind} store: replica ${f.replica} failed a read and is out of the rotation until a probe succeeds`,
    metric: {
      name: 'beacon_store_replica_up{target} = 0',
      record: (m, f) => m.replicaUp.set({ target: f.replica }, 0),
    },
  },
);

const storeReplicaUp = defineInternalEvent<{ replica: string }, StoreMetrics, string>('store_replica_up', {
  about: 'a read replica answered a probe and is back in the rotation',
  level: 'info',
  fields: { replica: true },
  message: (f, kind) => `${kind} store: replica ${f.replica} answers again and is back in the rotation`,
  metric: {
    name: 'beacon_store_replica_up{target} = 1',
    record: (m, f) => m.replicaUp.set({ target: f.replica }, 1),
  },
});

export const STORE_EVENTS = { storeOpened, storeRetention, storeRetentionFailed, storeReplicaDown, storeReplicaUp };

export const STORE_EVENT_CATALOGUE: readonly InternalEventInfo[] = Object.values(STORE_EVENTS).map((e) => e.info);
