import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { SinkError } from '../../../src/sinks/sink.js';
import { openEmbeddedStore, type EmbeddedStore } from '../../../src/store/embedded/index.js';
import { EmbeddedStoreReader } from '../../../src/store/embedded/embeddedReader.js';
import { EventWriter } from '../../../src/store/embedded/eventWriter.js';
import { Retention } from '../../../src/store/embedded/retention.js';
import { StoreDatabase } from '../../../src/store/embedded/storeDatabase.js';
import { embeddedStoreMetrics } from '../../../src/store/embedded/storeMetrics.js';
import { embeddedStoreSchema } from '../../../src/store/storeConfig.js';
import { MemoryLog } from '../../support/memoryLog.js';
import { waitUntil } from '../../support/waitFor.js';
import { runStoreReaderChecks, T0 } from '../../conformance/storeReader.js';

/**
 * The embedded store against real DuckDB files in temporary directories: the shared
 * StoreReader checks, then what only this store does (dedupe without a key, persistence,
 * retention by age and by size, feeding through the dispatcher).
 */
const DAY = 86_400_000;
const dirs: string[] = [];
const stores: EmbeddedStore[] = [];

after(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-store-'));
  dirs.push(dir);
  return dir;
}

async function open(dataDir: string, now: number, store: Record<string, unknown> = {}): Promise<EmbeddedStore> {
  const config = embeddedStoreSchema.parse({ type: 'embedded', retention: { checkEvery: '1h' }, ...store });
  const opened = await openEmbeddedStore(config, {
    dataDir,
    logger: silentLogger,
    clock: { now: () => now },
    registry: new Registry(),
  });
  stores.push(opened);
  return opened;
}

function event(id: string, ts: number, props: Record<string, unknown> = {}, type = 'page'): TrackedEvent {
  return { id, type, ts, props, meta: {} };
}

// The shared checks: written through the internal sink (the same events twice, as after a crash).
{
  const dataDir = tempDir();
  let opened: Promise<EmbeddedStore> | undefined;
  const store = () => (opened ??= open(dataDir, T0 + 10 * 60_000));
  runStoreReaderChecks('embedded', {
    write: async (events) => (await store()).sink.sink.deliver(events),
    open: async () => (await store()).reader,
  });
}

describe('the embedded store', () => {
  test('writes a batch delivered again, or again with more events, exactly once', async () => {
    const store = await open(tempDir(), T0);
    const first = Array.from({ length: 100 }, (_, i) => event(`a-${i}`, T0 + i));
    const more = Array.from({ length: 50 }, (_, i) => event(`b-${i}`, T0 + 100 + i));
    await store.sink.sink.deliver(first);
    await store.sink.sink.deliver(first);
    await store.sink.sink.deliver([...first.slice(50), ...more]);
    assert.equal(await store.reader.countBetween(T0, T0 + 1000), 150);
    const ids = (await store.reader.recent({ limit: 1000 })).map((e) => e.id);
    assert.equal(new Set(ids).size, 150);
  });

  test('keeps a client id sent again at another time as a second event, and byId answers the first', async () => {
    const store = await open(tempDir(), T0);
    await store.sink.sink.deliver([event('client-1', T0 + 10, { n: 1 })]);
    await store.sink.sink.deliver([{ ...event('client-1', T0 + 5000, { n: 2 }), meta: { duplicate: true } }]);
    assert.equal(await store.reader.countBetween(T0, T0 + 10_000), 2);
    assert.deepEqual((await store.reader.byId('client-1'))?.props, { n: 1 });
  });

  test('stores one of a client id repeated within one request (same receive time), and counts every skip', async () => {
    const registry = new Registry();
    const config = embeddedStoreSchema.parse({ type: 'embedded', retention: { checkEvery: '1h' } });
    const store = await openEmbeddedStore(config, {
      dataDir: tempDir(),
      logger: silentLogger,
      clock: { now: () => T0 },
      registry,
    });
    stores.push(store);
    const skipped = async (reason: string) =>
      (await registry.getSingleMetric('beacon_store_embedded_skipped_total')!.get()).values.find(
        (v) => v.labels.reason === reason,
      )?.value ?? 0;
    // One /batch with the same client id twice: both records share the request's ts.
    await store.sink.sink.deliver([
      event('twice', T0 + 10, { n: 1 }),
      { ...event('twice', T0 + 10, { n: 2 }), meta: { duplicate: true } },
    ]);
    assert.equal(await store.reader.countBetween(T0, T0 + 1000), 1);
    assert.deepEqual((await store.reader.byId('twice'))?.props, { n: 1 });
    assert.equal(await skipped('batch'), 1, 'the repeat is skipped, not silently');
    await store.sink.sink.deliver([event('twice', T0 + 10, { n: 1 })]);
    assert.equal(await skipped('stored'), 1, 'a redelivery is counted as stored');
  });

  test('stores every field of the event and gives it back unchanged, odd text included', async () => {
    const store = await open(tempDir(), T0);
    const full: TrackedEvent = {
      id: 'full-1',
      type: 'order.created',
      ts: T0 + 1,
      clientTs: T0 - 250,
      partyId: 'p-1',
      sessionId: 's-1',
      pageViewId: 'pv-1',
      ip: '203.0.113.0',
      ua: 'Mozilla/5.0',
      url: 'https://shop.example/cart?x=1',
      referrer: 'https://search.example/',
      props: { total: 12.5, items: [{ sku: 'A' }], nested: { deep: { ok: true } }, none: null, text: 'ünï "q" \' — ✓' },
      meta: { source: 'http', geo: { country: 'DE' }, bot: false },
    };
    await store.sink.sink.deliver([full]);
    assert.deepEqual(await store.reader.byId('full-1'), full);
    // A lone surrogate cannot be stored as UTF-8: it is kept as U+FFFD, and a redelivery still writes once.
    const odd = event('odd-\uD800', T0 + 2, { v: 'x\uDC00' });
    await store.sink.sink.deliver([odd]);
    await store.sink.sink.deliver([odd]);
    const back = await store.reader.byId('odd-\uFFFD');
    assert.equal(back?.id, 'odd-\uFFFD');
    assert.equal(await store.reader.countBetween(T0, T0 + 10), 2);
  });

  test('keeps its events across a close and a reopen of the same data dir', async () => {
    const dataDir = tempDir();
    const first = await open(dataDir, T0);
    await first.sink.sink.deliver(Array.from({ length: 300 }, (_, i) => event(`k-${i}`, T0 + i)));
    await first.close();
    const again = await open(dataDir, T0);
    assert.equal(await again.reader.countBetween(T0, T0 + 1000), 300);
  });

  test('answers a closed store with a retry for the sink and BEACON_E_STORE_UNAVAILABLE for queries', async () => {
    const store = await open(tempDir(), T0);
    await store.close();
    await assert.rejects(
      store.sink.sink.deliver([event('late', T0)]),
      (err: unknown) => err instanceof SinkError && err.kind === 'retry' && err.errorType === 'store_closed',
    );
    await assert.rejects(store.reader.countBetween(T0, T0 + 1), { code: 'BEACON_E_STORE_UNAVAILABLE' });
  });
});

describe('the embedded store under query load', () => {
  test('refuses queries past store.maxQueuedQueries with 503 BEACON_E_STORE_UNAVAILABLE and a Retry-After, and takes them again once the queue drains', async () => {
    const db = await StoreDatabase.open({
      dir: join(tempDir(), 'store'),
      memoryLimitBytes: 32 * 1024 ** 2,
      threads: 1,
      maxTempBytes: 1024 ** 3,
    });
    try {
      const reader = new EmbeddedStoreReader(db.reader, {
        queryTimeoutMs: 0,
        maxQueuedQueries: 2,
        retryAfterSeconds: 3,
      });
      // Hold the reader's connection, as a long query would.
      let release!: () => void;
      const held = db.reader.use(() => new Promise<void>((r) => (release = r)));
      const accepted = [
        reader.countBetween(T0, T0 + 1),
        reader.countBetween(T0, T0 + 1),
        reader.countBetween(T0, T0 + 1),
      ];
      await assert.rejects(
        reader.countBetween(T0, T0 + 1),
        (err: Error & { code?: string; status?: number; details?: Record<string, unknown> }) => {
          assert.equal(err.code, 'BEACON_E_STORE_UNAVAILABLE');
          assert.equal(err.status, 503);
          assert.equal(err.details?.retryAfterSeconds, 3);
          assert.match(err.message, /2 queries are already waiting \(store\.maxQueuedQueries\)/);
          return true;
        },
      );
      release();
      await held;
      assert.deepEqual(await Promise.all(accepted), [0, 0, 0]);
      assert.equal(await reader.countBetween(T0, T0 + 1), 0, 'taken again once the queue drained');
    } finally {
      await db.close();
    }
  });

  test('interrupts a query past store.queryTimeout and answers 504 BEACON_E_STORE_TIMEOUT', async () => {
    let interrupted = 0;
    let fail!: (err: Error) => void;
    const connection = {
      interrupt: () => {
        interrupted++;
        fail(new Error('INTERRUPT Error: Interrupted!'));
      },
      runAndReadAll: () => new Promise((_, reject) => (fail = reject)),
    };
    const serial = {
      use: (fn: (c: unknown) => unknown) => Promise.resolve().then(() => fn(connection)),
    } as unknown as ConstructorParameters<typeof EmbeddedStoreReader>[0];
    const reader = new EmbeddedStoreReader(serial, { queryTimeoutMs: 20, maxQueuedQueries: 8, retryAfterSeconds: 1 });
    await assert.rejects(reader.countBetween(T0, T0 + 1), (err: Error & { code?: string; status?: number }) => {
      assert.equal(err.code, 'BEACON_E_STORE_TIMEOUT');
      assert.equal(err.status, 504);
      assert.match(err.message, /store\.queryTimeout \(20 ms\).*narrow the query/);
      return true;
    });
    assert.equal(interrupted, 1);
  });

  test('configures a query timeout and a queue cap by default', () => {
    const config = embeddedStoreSchema.parse({ type: 'embedded', queryTimeout: '5s', maxQueuedQueries: 4 });
    assert.equal(config.queryTimeout, 5000);
    assert.equal(config.maxQueuedQueries, 4);
    const defaults = embeddedStoreSchema.parse({ type: 'embedded' });
    assert.equal(defaults.queryTimeout, 30_000);
    assert.equal(defaults.maxQueuedQueries, 32);
  });
});

describe('retention of the embedded store', () => {
  test('deletes events older than maxAge and keeps the rest', async () => {
    const now = T0 + 100 * DAY;
    const registry = new Registry();
    const db = await StoreDatabase.open({
      dir: join(tempDir(), 'store'),
      memoryLimitBytes: 32 * 1024 ** 2,
      threads: 1,
      maxTempBytes: 1024 ** 3,
    });
    try {
      await new EventWriter(db.writer).write([
        event('old-1', now - 40 * DAY),
        event('old-2', now - 30 * DAY - 1),
        event('keep-1', now - 30 * DAY + 1000),
        event('keep-2', now),
      ]);
      const metrics = embeddedStoreMetrics(registry);
      const retention = new Retention(
        db,
        { maxAgeMs: 30 * DAY, maxBytes: 0 },
        { clock: { now: () => now }, logger: silentLogger, metrics },
      );
      const result = await retention.run();
      assert.equal(result.deletedByAge, 2);
      const reader = new EmbeddedStoreReader(db.reader);
      assert.deepEqual(
        (await reader.recent({ limit: 10 })).map((e) => e.id),
        ['keep-2', 'keep-1'],
      );
      assert.match(await registry.metrics(), /beacon_store_embedded_deleted_total\{reason="age"\} 2/);
      assert.match(await registry.metrics(), /beacon_store_embedded_rows 2/);
      assert.equal((await retention.run()).deletedByAge, 0, 'a second run finds nothing more to delete');
    } finally {
      await db.close();
    }
  });

  test('deletes the oldest events until the live data is under maxBytes, once, and the file stops growing', async () => {
    const db = await StoreDatabase.open({
      dir: join(tempDir(), 'store'),
      memoryLimitBytes: 32 * 1024 ** 2,
      threads: 1,
      maxTempBytes: 1024 ** 3,
    });
    // Bulk rows through SQL (the writer's path is tested above): distinct text, so the data does not compress to nothing.
    const fill = (from: number, to: number) =>
      db.writer.use((c) =>
        c.run(
          `INSERT INTO events (id, type, ts, props, meta)
           SELECT 'e-' || i || '-' || md5(i::VARCHAR), 'page', ${T0} + i * 10, '{"q":"' || md5(i::VARCHAR) || '","n":' || i || '}', '{}' FROM range(${from}, ${to}) t(i)`,
        ),
      );
    const reader = new EmbeddedStoreReader(db.reader);
    const live = () => reader.countBetween(0, T0 + 10 ** 9);
    try {
      await fill(0, 500_000);
      await db.writer.use((c) => c.run('CHECKPOINT'));
      const full = await db.size();
      const maxBytes = Math.floor(full.usedBytes / 2);
      const rowGroupBytes = (full.usedBytes / 500_000) * 122_880;
      const retention = new Retention(
        db,
        { maxAgeMs: 0, maxBytes },
        { clock: { now: () => T0 }, logger: silentLogger, metrics: embeddedStoreMetrics(new Registry()) },
      );

      const first = await retention.run();
      assert.ok(
        first.deletedBySize > 200_000 && first.deletedBySize < 300_000,
        `deleted ${first.deletedBySize} of 500000 to fit in half the bytes`,
      );
      assert.equal(await live(), 500_000 - first.deletedBySize);
      assert.ok(
        first.size.usedBytes <= maxBytes + rowGroupBytes,
        `used ${first.size.usedBytes} <= ${maxBytes} + one row group (${Math.round(rowGroupBytes)})`,
      );
      // The oldest went, and everything after the cut stayed.
      assert.equal(
        await reader.countBetween(T0 + first.deletedBySize * 10, T0 + 500_000 * 10),
        500_000 - first.deletedBySize,
      );
      assert.equal((await reader.recent({ limit: 1 }))[0]?.props.n, 499_999);
      assert.equal(
        (await retention.run()).deletedBySize,
        0,
        'deleted rows whose space is not freed yet are not deleted for again',
      );

      // Keep filling: the live data stays under the limit, and freed blocks are reused, so the file stops growing.
      const files: number[] = [];
      for (let round = 0; round < 4; round++) {
        await fill(500_000 + round * 100_000, 600_000 + round * 100_000);
        const r = await retention.run();
        assert.ok((await live()) <= 250_000, `round ${round}: ${await live()} events live`);
        files.push(r.size.fileBytes);
      }
      // Measured here: the file settles at about twice maxBytes (blocks of deleted rows wait for their row group to empty, and a checkpoint writes before it frees).
      const sizes = `file sizes ${files.join(', ')}; maxBytes ${maxBytes}; ${full.fileBytes} before retention`;
      assert.ok(files[3]! <= files[1]! * 1.1, `the file stops growing: ${sizes}`);
      assert.ok(Math.max(...files) <= maxBytes * 2.5, `the file stays near maxBytes: ${sizes}`);
    } finally {
      await db.close();
    }
  });
});

describe('the internal sink under the dispatcher', () => {
  test('feeds the store from the log through its own cursor, leaves the bad stream out, and a replay from the start writes nothing twice', async () => {
    const store = await open(tempDir(), T0);
    const log = new MemoryLog();
    const dispatcher = new Dispatcher({
      log,
      sinks: [store.sink],
      dispatch: { maxFailoverDuration: 1000, initialBackoff: 100, logEvery: 0, shutdownTimeout: 2000 },
      dataDir: tempDir(),
      logger: silentLogger,
      metrics: createMetrics(new Registry()),
    });
    await dispatcher.start();
    try {
      await log.append(Array.from({ length: 2500 }, (_, i) => event(`d-${i}`, T0 + i, {}, i % 2 ? 'click' : 'page')));
      await log.append([
        { ...event('bad-1', T0 + 5000), meta: { invalid: { schema: 'page', reasons: ['props.plan is required'] } } },
      ]);
      await waitUntil('2500 events stored', async () => (await store.reader.countBetween(T0, T0 + 10_000)) === 2500);
      const status = dispatcher.status().find((s) => s.name === '_store')!;
      assert.equal(status.type, 'store');
      await waitUntil(
        'the store sink caught up',
        () => dispatcher.status().find((s) => s.name === '_store')!.lagEvents === 0,
      );
      assert.equal(await store.reader.byId('bad-1'), undefined, 'a schema-invalid event is not stored');
      await dispatcher.replayFromLog('_store', { kind: 'start' });
      await waitUntil(
        'the replay delivered',
        () => dispatcher.status().find((s) => s.name === '_store')!.delivered === 5000,
      );
      assert.equal(await store.reader.countBetween(T0, T0 + 10_000), 2500);
      assert.deepEqual(await store.reader.countsByBucket({ from: T0, to: T0 + 10_000, bucketMs: 10_000 }), [
        { bucket: Math.floor(T0 / 10_000) * 10_000, type: 'click', count: 1250 },
        { bucket: Math.floor(T0 / 10_000) * 10_000, type: 'page', count: 1250 },
      ]);
    } finally {
      await dispatcher.stop(2000);
    }
  });
});
