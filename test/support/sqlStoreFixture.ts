import { after } from 'node:test';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import type { Sink, SinkContext } from '../../src/sinks/sink.js';
import { openSqlStoreReader, type SqlStoreConfig, type SqlStoreReader } from '../../src/store/sql/index.js';

/**
 * What the SQL store tests (test/integration/store{Postgres,Mysql,Clickhouse}.test.ts) share:
 * events go in through the store's real sink, readers are opened over that sink's table, and
 * at the end of the file every reader is closed, then `cleanup` drops what the run made.
 */
export interface SqlStoreFixtureOptions<C extends { name: string }> {
  type: SqlStoreConfig['type'];
  /** The strict schema of `store.type`. */
  storeSchema: { parse(input: unknown): SqlStoreConfig };
  /** The store's real sink for a sink config. */
  newSink(config: C, context: Pick<SinkContext, 'name' | 'logger'>): Sink;
  /** Runs after the readers are closed; `tables` are the names `table()` handed out. */
  cleanup(tables: readonly string[]): Promise<void>;
}

export interface SqlStoreFixture<C extends { name: string }> {
  /** A table name private to this run (`beacon_store_<run>_<label>`), passed to `cleanup` at the end. */
  table(label: string): string;
  /** Delivers the events through a fresh sink (one delivery), then closes it. */
  writeThroughSink(config: C, events: readonly TrackedEvent[]): Promise<void>;
  /** A reader of the sink's table, with `store` fields added to the store config; closed at the end. */
  open(sink: C, store?: Record<string, unknown>, registry?: Registry): SqlStoreReader;
}

export function sqlStoreFixture<C extends { name: string }>(options: SqlStoreFixtureOptions<C>): SqlStoreFixture<C> {
  const run = randomUUID().slice(0, 8);
  const tables: string[] = [];
  const readers: { close(): Promise<void> }[] = [];

  after(async () => {
    for (const r of readers) await r.close();
    await options.cleanup(tables);
  });

  return {
    table(label) {
      const name = `beacon_store_${run}_${label}`;
      tables.push(name);
      return name;
    },

    async writeThroughSink(config, events) {
      const sink = options.newSink(config, { name: config.name, logger: silentLogger });
      await sink.open();
      // Called directly, not by a delivery loop: no deadline aborts the attempt or the close.
      const never = new AbortController().signal;
      try {
        await sink.deliver(events, { signal: never });
      } finally {
        await sink.close(never);
      }
    },

    open(sink, store = {}, registry = new Registry()) {
      const reader = openSqlStoreReader(options.storeSchema.parse({ type: options.type, sink: sink.name, ...store }), {
        sinks: [sink],
        logger: silentLogger,
        registry,
      });
      readers.push(reader);
      return reader;
    },
  };
}
