import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BeaconConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import type { Clock } from '../ops/clock.js';
import { openEmbeddedStore, STORE_SINK_NAME, type EmbeddedStore } from './embedded/index.js';
import { openSqlStoreReader } from './sql/index.js';
import type { StoreReader } from './storeReader.js';

export type { StoreReader } from './storeReader.js';
export { STORE_SINK_NAME } from './embedded/index.js';

export interface StoreDeps {
  logger: Logger;
  clock: Pick<Clock, 'now'>;
  /** The process's metrics registry (what /metrics serves). */
  registry?: Registry;
}

/** The store as the process that runs the dispatcher sees it. */
export interface OpenStore {
  /** What the query API reads; with `store.type: none`, a reader that answers BEACON_E_STORE_OFF. */
  reader: StoreReader;
  /** With `store.type: embedded`, the internal sink `_store` the dispatcher runs beside the configured sinks. */
  internalSink: EmbeddedStore['sink'] | undefined;
  /** Closes the store; call after the dispatcher stopped. */
  close(): Promise<void>;
}

/**
 * Opens the store for the process that runs the dispatcher: for `embedded`, the DuckDB file
 * and its internal sink, which share one database; for the SQL types, a reader over the
 * table their sink writes (the sink is a configured one, run by the dispatcher as usual).
 */
export async function openStore(config: BeaconConfig, deps: StoreDeps): Promise<OpenStore> {
  const store = config.store;
  if (store.type === 'embedded') {
    const clash = config.sinks.findIndex((s) => s.name === STORE_SINK_NAME);
    if (clash >= 0) {
      throw new BeaconError(
        'BEACON_E_CONFIG_FIELD',
        `sinks.${clash}.name: "${STORE_SINK_NAME}" is the embedded store's internal sink; give your sink another name`,
        { field: `sinks.${clash}.name` },
      );
    }
    const embedded = await openEmbeddedStore(store, {
      dataDir: config.dataDir,
      logger: deps.logger,
      clock: deps.clock,
      registry: deps.registry,
    });
    return { reader: embedded.reader, internalSink: embedded.sink, close: () => embedded.close() };
  }
  const reader = await openStoreReader(config, deps);
  return { reader, internalSink: undefined, close: () => reader.close() };
}

/**
 * The store reader for a process that does not run the dispatcher (`beacon start --role api`).
 * The embedded store cannot be read there: its DuckDB file is held open, read-write, by the
 * process that feeds it, and DuckDB lets no other process open it meanwhile.
 */
export async function openStoreReader(config: BeaconConfig, deps: StoreDeps): Promise<StoreReader> {
  const store = config.store;
  switch (store.type) {
    case 'none':
      return disabledStoreReader();
    case 'embedded':
      throw new BeaconError(
        'BEACON_E_ROLE_CONFIG',
        'store.type: embedded is read only by the process that runs the dispatcher (its DuckDB file is locked to it); for a separate API process set store.type to postgres, mysql or clickhouse, or run the API in that process',
        { field: 'store.type' },
      );
    default:
      return openSqlStoreReader(store, { sinks: config.sinks, logger: deps.logger, registry: deps.registry });
  }
}

/** `store.type: none`: the query endpoints stay (the API's shape does not depend on config) and say the store is off. */
export function disabledStoreReader(): StoreReader {
  const off = async (): Promise<never> => {
    throw new BeaconError(
      'BEACON_E_STORE_OFF',
      'the query API has no store: store.type is none. Set store.type to embedded (the default) or to a SQL store to query events',
    );
  };
  return { countsByBucket: off, recent: off, countBetween: off, topValues: off, byId: off, close: async () => {} };
}
