import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Clock } from '../../ops/clock.js';
import type { BaseSinkConfig } from '../../sinks/sinkConfig.js';
import type { EmbeddedStoreConfig } from '../storeConfig.js';
import type { StoreReader } from '../storeReader.js';
import { EmbeddedStoreReader } from './embeddedReader.js';
import { EventWriter } from './eventWriter.js';
import { Retention } from './retention.js';
import { StoreDatabase } from './storeDatabase.js';
import { embeddedStoreMetrics } from './storeMetrics.js';
import { STORE_EVENTS } from '../internalEvents.js';
import { EmbeddedStoreSink, STORE_SINK_NAME, STORE_SINK_TYPE } from './storeSink.js';

export { STORE_SINK_NAME, STORE_SINK_TYPE } from './storeSink.js';
export { STORE_FILE } from './storeDatabase.js';

export interface EmbeddedStore {
  /** What the query API reads. */
  reader: StoreReader;
  /** The internal sink for the dispatcher: config (name `_store`) and the ready sink. */
  sink: { config: StoreSinkConfig; sink: EmbeddedStoreSink };
  /** Retention, already started; `run()` makes a pass now. */
  retention: Retention;
  /** Stops retention and closes the database; call after the dispatcher stopped (the sink writes until then). */
  close(): Promise<void>;
}

/** The fields of a sink config the dispatcher reads, typed so a renamed field fails here, not silently in the loose parse. */
type StoreSinkConfig = Pick<BaseSinkConfig, 'name' | 'type' | 'batch' | 'badStream'>;

export interface EmbeddedStoreDeps {
  dataDir: string;
  logger: Logger;
  clock: Pick<Clock, 'now'>;
  /** The process's metrics registry; a private one when absent. */
  registry?: Registry;
}

/**
 * Opens `<dataDir>/store/events.duckdb` (creating it), and builds the reader and the internal
 * sink over that one database, so the process that runs the dispatcher both feeds and reads it.
 * Retention runs once at start, in the background, and then every `retention.checkEvery`.
 */
export async function openEmbeddedStore(config: EmbeddedStoreConfig, deps: EmbeddedStoreDeps): Promise<EmbeddedStore> {
  const db = await StoreDatabase.open({
    dir: join(deps.dataDir, 'store'),
    memoryLimitBytes: config.memoryLimit,
    threads: config.threads,
    maxTempBytes: config.maxTempBytes,
  });
  const logger = deps.logger.child({ store: 'embedded' });
  const metrics = embeddedStoreMetrics(deps.registry);
  const retention = new Retention(
    db,
    { maxAgeMs: config.retention.maxAge, maxBytes: config.retention.maxBytes },
    { clock: deps.clock, logger, metrics },
  );
  retention.start(config.retention.checkEvery);
  STORE_EVENTS.storeOpened.emit({ logger }, { path: db.path });
  return {
    reader: new EmbeddedStoreReader(db.reader, {
      queryTimeoutMs: config.queryTimeout,
      maxQueuedQueries: config.maxQueuedQueries,
      retryAfterSeconds: 1,
    }),
    // Like any sink by default, the store keeps schema-invalid events (the bad stream) out of what it counts.
    sink: {
      // One write transaction at a time: the store's writer is a single SQLite connection.
      config: {
        name: STORE_SINK_NAME,
        type: STORE_SINK_TYPE,
        batch: { ...config.batch, inFlight: 1 },
        badStream: 'exclude',
      },
      sink: new EmbeddedStoreSink(new EventWriter(db.writer, metrics.skipped)),
    },
    retention,
    async close() {
      await retention.stop();
      await db.close();
    },
  };
}
