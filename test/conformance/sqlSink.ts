import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { silentLogger } from '../../src/ops/logger.js';
import { SinkError, type Sink } from '../../src/sinks/sink.js';
import { parseSinkConfig } from '../../src/config/parseSinkConfig.js';
import { MemoryLog } from '../support/memoryLog.js';
import type { TcpProxy } from '../support/tcpProxy.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * What a SQL sink's test provides for the checks every SQL sink with an idempotent INSERT
 * (postgres, mysql) must pass, beside the general `runSinkConformance`: its server behind a
 * TcpProxy (so connections can be cut mid-batch), tables named after the run, and a way to
 * count and inspect what a table holds.
 */
/** A SQL sink called directly by the checks, as the postgres and mysql sinks allow. */
export type DirectSink = Pick<Sink, 'open'> & {
  deliver(batch: readonly TrackedEvent[]): Promise<void>;
  close(): Promise<void>;
};

export interface SqlSinkHarness {
  /** The sink's config `type`. */
  type: string;
  /** The connection fields through the proxy (host, port, user, database, timeouts). */
  base(): Record<string, unknown>;
  /** Parses a whole sink config (the sink's own schema). */
  parse(config: Record<string, unknown>): { name: string; type: string } & Record<string, unknown>;
  /** A sink on the parsed config, outside a dispatcher (called directly: no attempt signal, its own close deadline). */
  sinkFor(config: Record<string, unknown>): DirectSink;
  /** The proxy between the sinks and the server. */
  proxy: TcpProxy;
  /** The server's own port, for the throughput diagnostic (no proxy in the way). */
  directPort: number;
  /** A table name unique to this run, dropped at the end. */
  tableFor(label: string): string;
  /** `n` events from `from` on, with ids unique to this run and fixed times. */
  makeEvents(n: number, from?: number, extra?: (i: number) => Partial<TrackedEvent>): TrackedEvent[];
  /** Rows and distinct ids in the table. */
  count(table: string): Promise<{ rows: number; ids: number }>;
  /** Runs one statement as the test's admin. */
  exec(sql: string): Promise<void>;
  /** `table` quoted, as the admin writes it in a statement. */
  quoted(table: string): string;
  /** A column type for a text primary key (MySQL needs a length). */
  idType: string;
  /** Creates the default table with `party_id` 8 characters long. */
  createNarrowPartyTable(table: string): Promise<void>;
  /** The server's message for a value too long for `party_id`, with its code. */
  tooLong: RegExp;
  /** More checks on the table after the too-long rows were dead-lettered. */
  afterTooLong?(table: string): Promise<void>;
  /** How the sink writes a fresh batch, for the throughput diagnostic. */
  throughputNote: string;
}

const waitFor = (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) =>
  waitUntil(what, check, timeoutMs, 20);

/** The SinkError a promise rejects with (fails the test when it resolves or throws anything else). */
export async function failure(p: Promise<unknown>): Promise<SinkError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof SinkError, `expected a SinkError, got ${String(err)}`);
  return err;
}

export function runSqlSinkConformance(name: string, h: SqlSinkHarness): void {
  const { proxy, tableFor, makeEvents, count, sinkFor } = h;

  function dispatcherFor(config: Record<string, unknown>) {
    const sinkName = String(config.name);
    const log = new MemoryLog();
    const dataDir = mkdtempSync(join(tmpdir(), `beacon-${h.type}-${sinkName}-`));
    const dispatcher = new Dispatcher({
      log,
      sinks: [{ config: parseSinkConfig(h.parse({ type: h.type, ...h.base(), ...config })) }],
      dispatch: { maxFailoverDuration: 200, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
      dataDir,
      logger: silentLogger,
      metrics: createMetrics(new Registry()),
    });
    return { log, dataDir, dispatcher, status: () => dispatcher.status()[0]! };
  }

  describe(`${name} sink: SQL conformance`, () => {
    test('writes nothing twice when a batch is delivered again after a restart mid-batch', async (t) => {
      const table = tableFor('twice');
      const first = sinkFor({ table, createTable: true });
      await first.open();
      await first.deliver(makeEvents(50));
      // The process "crashes" here: the rows are in, the cursor was never committed.
      await first.close();
      const second = sinkFor({ table });
      await second.open();
      await second.deliver(makeEvents(80));
      assert.deepEqual(await count(table), { rows: 80, ids: 80 });

      // Cut the connection while a large batch (several statements in one transaction) is in flight.
      const big = makeEvents(20_000, 1000);
      const cut = setTimeout(() => proxy.cut(), 40);
      const outcome = await second.deliver(big).then(
        () => 'delivered',
        (e: unknown) => (e instanceof SinkError ? e.kind : String(e)),
      );
      clearTimeout(cut);
      t.diagnostic(`the 20000-event batch cut after 40 ms: ${outcome}`);
      assert.ok(outcome === 'delivered' || outcome === 'reconnect', `a cut connection is a reconnect, got ${outcome}`);
      await second.close();
      await second.open();
      await second.deliver(big);
      await second.close();
      assert.deepEqual(await count(table), { rows: 20_080, ids: 20_080 });
    });

    test('loses nothing when connections are cut again and again in the middle of batches', async (t) => {
      const table = tableFor('cuts');
      const { log, dispatcher, status } = dispatcherFor({
        name: 'cuts',
        table,
        createTable: true,
        batch: { maxEvents: 200, maxWaitMs: 10 },
      });
      await dispatcher.start();
      const sent = makeEvents(5000);
      let appended = false;
      const appending = (async () => {
        for (let i = 0; i < sent.length; i += 100) {
          await log.append(sent.slice(i, i + 100));
          await new Promise((r) => setTimeout(r, 20));
        }
        appended = true;
      })();
      // Cut every open connection every 60 ms while events keep arriving (about 1 s).
      let cuts = 0;
      while (!appended) {
        await new Promise((r) => setTimeout(r, 60));
        if (proxy.connections > 0) {
          proxy.cut();
          cuts++;
        }
      }
      await appending;
      assert.ok(cuts >= 5, `only ${cuts} cuts happened`);
      await waitFor(
        async () => (await count(table).catch(() => ({ rows: 0 }))).rows === sent.length,
        'every event after the cuts',
      );
      await dispatcher.stop(5000);
      assert.deepEqual(await count(table), { rows: 5000, ids: 5000 });
      assert.ok(status().errors > 0, 'the cuts were seen as failed attempts');
      t.diagnostic(`cuts: ${cuts}, failed attempts: ${status().errors}`);
    });

    test('dead-letters rows the server refuses (a value too long) with its message, and writes the rest once', async () => {
      const table = tableFor('toolong');
      await h.createNarrowPartyTable(table);
      const { log, dataDir, dispatcher, status } = dispatcherFor({
        name: 'toolong',
        table,
        batch: { maxEvents: 50, maxWaitMs: 10 },
      });
      await dispatcher.start();
      const sent = makeEvents(40, 0, (i) => ({
        partyId: i === 3 || i === 30 ? 'a-party-id-longer-than-eight' : `p${i}`,
      }));
      await log.append(sent);
      await waitFor(() => status().deadLettered === 2 && status().lagEvents === 0, 'the dead letters');
      await dispatcher.stop(5000);
      assert.deepEqual(await count(table), { rows: 38, ids: 38 });
      await h.afterTooLong?.(table);
      const entries = readFileSync(join(dataDir, 'dlq', 'toolong.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: TrackedEvent; reason: string });
      assert.deepEqual(
        entries.map((e) => e.event.id),
        [sent[3]!.id, sent[30]!.id],
      );
      for (const entry of entries) assert.match(entry.reason, h.tooLong);
    });

    test('stops with a message naming the table when it is missing, or a mapped column is missing, or its id column is not unique', async () => {
      const table = tableFor('missing');
      const err = await failure(sinkFor({ table }).open());
      assert.equal(err.kind, 'fatal');
      assert.match(err.message, new RegExp(`table ${table} does not exist: create it .* or set createTable: true`));

      const noColumn = tableFor('nocolumn');
      await h.exec(`CREATE TABLE ${h.quoted(noColumn)} (id ${h.idType} PRIMARY KEY)`);
      const err2 = await failure(sinkFor({ table: noColumn, columns: { id: 'id', kind: 'type' } }).open());
      assert.equal(err2.kind, 'fatal');
      assert.match(err2.message, /has no column kind/);

      const noKey = tableFor('nokey');
      await h.exec(`CREATE TABLE ${h.quoted(noKey)} (id ${h.idType})`);
      const err3 = await failure(sinkFor({ table: noKey, columns: { id: 'id' } }).open());
      assert.equal(err3.kind, 'fatal');
      assert.match(err3.message, /column id of .* must be the primary key \(or have a unique index\)/);
    });

    test('measures insert throughput (diagnostic)', async (t) => {
      const table = tableFor('throughput');
      const sink = sinkFor({ table, createTable: true, port: h.directPort });
      await sink.open();
      const events = makeEvents(20_000);
      const started = performance.now();
      for (let i = 0; i < events.length; i += 500) await sink.deliver(events.slice(i, i + 500));
      const seconds = (performance.now() - started) / 1000;
      await sink.close();
      assert.equal((await count(table)).rows, 20_000);
      t.diagnostic(`${name}: ${Math.round(20_000 / seconds)} rows/s in batches of 500 (${h.throughputNote})`);
    });
  });
}
