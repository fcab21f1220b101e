import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { createClient, ClickHouseLogLevel } from '@clickhouse/client';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { silentLogger } from '../../src/ops/logger.js';
import { clickhouseConfigSchema } from '../../src/sinks/clickhouse/index.js';
import { ClickHouseSink } from '../../src/sinks/clickhouse/clickhouseSink.js';
import { createTableSql } from '../../src/sql/clickhouse.js';
import { DEFAULT_COLUMNS, columnMapping } from '../../src/sinks/sqlColumns.js';
import { SinkError, type Sink } from '../../src/sinks/sink.js';
import { startClickHouse } from '../support/clickhouseServer.js';
import { MemoryLog } from '../support/memoryLog.js';
import { waitUntil } from '../support/waitFor.js';
import { runAttempt } from '../../src/dispatch/deadline.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { runSinkConformance } from './sink.js';

/**
 * The clickhouse sink against a private ClickHouse server (Debian's 18.16) that this file
 * starts (test/support/clickhouseServer.ts: `scripts/ensure-clickhouse.sh --exec` installs the
 * packages when missing, writes a config and data dir in a temp dir, and execs the server on
 * free ports); the test owns the process and stops it at the end. The sink reaches it through
 * a TcpProxy, so an outage can be played; set-up and read-back go to the server directly.
 * Everything lives in a database named after this run, dropped at the end with the server.
 *
 * Read-back uses `SELECT ... FINAL ORDER BY id`: a ReplacingMergeTree collapses rows of one id
 * at merge time, FINAL does it at read time. ClickHouse keeps no arrival order (rows are
 * sorted by the id), so the sink does not promise order and the suite's order check is skipped.
 *
 * `rejectWhere`: 18.16 has no CHECK constraints (19.14 added them) and its throwIf takes no
 * message, so the refusal is a MATERIALIZED column, computed by the server on insert, that
 * converts the reason text to a number for the bad rows only:
 * `toUInt8(if(ifNull(poison, '') = 'true', '<reason>', '0'))`. The server refuses those rows with
 * "Cannot parse string '<reason>' as UInt8" (Code 6). It names no row for an expression
 * failing on a block, so this check also exercises the dispatcher's bisection.
 */
const RUN = randomUUID().slice(0, 8);
const DB = `beacon_test_${RUN}`;

const started = await startClickHouse();
if ('skip' in started) {
  test('clickhouse sink', { skip: started.skip }, () => {});
} else {
  const server = started;
  const admin = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
  const proxy = new TcpProxy(server.port);
  await proxy.start();
  await admin.command({ query: `CREATE DATABASE ${DB}` });
  after(async () => {
    await admin.command({ query: `DROP DATABASE IF EXISTS ${DB}` }).catch(() => {});
    await admin.close();
    await proxy.stop();
    await server.stop();
  });

  const run = (query: string) => admin.command({ query });
  const select = async <T = Record<string, unknown>>(query: string) =>
    (await admin.query({ query, format: 'JSONEachRow' })).json<T>();
  const base = () => ({ url: `http://127.0.0.1:${proxy.port}`, database: DB, requestTimeoutMs: 10_000 });

  /** A row of the default layout back to the event it came from (NULL fields stay absent). */
  const toEvent = (row: Record<string, unknown>): TrackedEvent => {
    const event: TrackedEvent = {
      id: String(row.id),
      type: String(row.type),
      ts: Number(row.ts),
      props: JSON.parse(String(row.props)) as TrackedEvent['props'],
      meta: JSON.parse(String(row.meta)) as TrackedEvent['meta'],
    };
    const optional: [keyof TrackedEvent, string][] = [
      ['partyId', 'party_id'],
      ['sessionId', 'session_id'],
      ['pageViewId', 'page_view_id'],
      ['ip', 'ip'],
      ['ua', 'ua'],
      ['url', 'url'],
      ['referrer', 'referrer'],
    ];
    if (row.client_ts !== null && row.client_ts !== undefined) event.clientTs = Number(row.client_ts);
    for (const [field, column] of optional)
      if (row[column] !== null && row[column] !== undefined)
        (event as unknown as Record<string, unknown>)[field] = row[column];
    return event;
  };

  const conformanceColumns = { ...DEFAULT_COLUMNS, poison: 'props.poison' };
  let pending: Promise<unknown> = Promise.resolve();

  runSinkConformance('clickhouse', {
    ordered: false,
    config: () => ({ type: 'clickhouse', ...base(), table: 'conformance', columns: conformanceColumns }),
    createSink: (config, context) => {
      const sink = new ClickHouseSink(clickhouseConfigSchema.parse(config), context);
      // rejectWhere is synchronous; its ALTER TABLE finishes before the sink first opens.
      const wrapped: Sink = {
        open: async () => {
          await pending;
          await sink.open();
        },
        deliver: (b) => sink.deliver(b),
        close: () => sink.close(),
      };
      return wrapped;
    },
    start: async () => proxy.restore(),
    stop: async () => proxy.down(),
    reset: async () => {
      await pending;
      await run(`DROP TABLE IF EXISTS ${DB}.conformance`);
      await run(createTableSql({ database: DB, table: 'conformance' }, columnMapping(conformanceColumns)));
    },
    readBack: async () => (await select(`SELECT * FROM ${DB}.conformance FINAL ORDER BY id`)).map(toEvent),
    rejectWhere: (bad, reason) => {
      const sample = (props: Record<string, unknown>): TrackedEvent => ({ id: 'x', type: 't', ts: 0, props, meta: {} });
      assert.ok(
        bad(sample({ poison: true })) && !bad(sample({ n: 1 })) && !bad(sample({ poison: false })),
        'the expression below is the SQL twin of the suite predicate',
      );
      pending = run(
        `ALTER TABLE ${DB}.conformance ADD COLUMN refused UInt8 MATERIALIZED toUInt8(if(ifNull(poison, '') = 'true', '${reason.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}', '0'))`,
      );
    },
  });

  const makeEvents = (n: number, from = 0, extra: (i: number) => Partial<TrackedEvent> = () => ({})): TrackedEvent[] =>
    Array.from({ length: n }, (_, k) => {
      const i = from + k;
      return {
        id: `h${RUN}-${String(i).padStart(6, '0')}`,
        type: 'order.created',
        ts: 1_700_000_000_000 + i,
        props: { n: i, plan: i % 2 ? 'pro' : 'free' },
        meta: { geo: { country: 'DE' } },
        ...extra(i),
      };
    });

  const sinkFor = (config: Record<string, unknown>) =>
    new ClickHouseSink(clickhouseConfigSchema.parse({ type: 'clickhouse', name: 'ch-test', ...base(), ...config }), {
      name: 'ch-test',
      logger: silentLogger,
    });

  const count = async (table: string, final = '') => {
    const [r] = await select<{ rows: string; ids: string }>(
      `SELECT count() AS rows, uniqExact(id) AS ids FROM ${DB}.${table} ${final}`,
    );
    return { rows: Number(r!.rows), ids: Number(r!.ids) };
  };

  const failure = async (p: Promise<unknown>): Promise<SinkError> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof SinkError, `expected a SinkError, got ${String(err)}`);
    return err;
  };

  const waitFor = async (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  describe('clickhouse sink', () => {
    test('creates the documented ReplacingMergeTree on open when createTable is set', async () => {
      const sink = sinkFor({ table: 'created', createTable: true });
      await sink.open();
      const sent = makeEvents(3, 0, (i) =>
        i === 0 ? { clientTs: 1_699_999_999_123, partyId: 'party', ip: '10.0.0.1' } : {},
      );
      await sink.deliver(sent);
      await sink.close();
      const columns = await select<{ name: string; type: string }>(
        `SELECT name, type FROM system.columns WHERE database = '${DB}' AND table = 'created'`,
      );
      assert.deepEqual(
        columns.map((c) => `${c.name} ${c.type}`),
        [
          'id String',
          'type String',
          'ts UInt64',
          'client_ts Nullable(UInt64)',
          'party_id Nullable(String)',
          'session_id Nullable(String)',
          'page_view_id Nullable(String)',
          'ip Nullable(String)',
          'ua Nullable(String)',
          'url Nullable(String)',
          'referrer Nullable(String)',
          'props String',
          'meta String',
          'received_at DateTime',
        ],
      );
      const [table] = await select<{ engine_full: string }>(
        `SELECT engine_full FROM system.tables WHERE database = '${DB}' AND name = 'created'`,
      );
      assert.match(
        table!.engine_full,
        /^ReplacingMergeTree\(\) PARTITION BY toYYYYMM\(toDate\(intDiv\(ts, 1000\)\)\) ORDER BY id/,
      );
      const rows = await select(`SELECT * FROM ${DB}.created FINAL ORDER BY id`);
      assert.deepEqual(rows.map(toEvent), sent);
    });

    test('a batch delivered twice leaves each id once after OPTIMIZE TABLE ... FINAL (and at once with FINAL reads)', async () => {
      const first = sinkFor({ table: 'twice', createTable: true });
      await first.open();
      await first.deliver(makeEvents(50));
      // The process "crashes" here: the rows are in, the cursor was never committed.
      await first.close();
      const second = sinkFor({ table: 'twice' });
      await second.open();
      await second.deliver(makeEvents(80));
      await second.deliver(makeEvents(80));
      await second.close();
      assert.deepEqual(await count('twice', 'FINAL'), { rows: 80, ids: 80 });
      await run(`OPTIMIZE TABLE ${DB}.twice FINAL`);
      assert.deepEqual(await count('twice'), { rows: 80, ids: 80 });
    });

    test('dead-letters the rows the server names as unparseable (an Int32 column fed a word) with its message, and writes the rest', async () => {
      await run(
        `CREATE TABLE ${DB}.typed (id String, ts UInt64, n Int32, plan String) ENGINE = ReplacingMergeTree() ORDER BY (id)`,
      );
      const log = new MemoryLog();
      const dataDir = mkdtempSync(join(tmpdir(), 'beacon-clickhouse-reject-'));
      const config = clickhouseConfigSchema.parse({
        type: 'clickhouse',
        name: 'typed',
        ...base(),
        table: 'typed',
        columns: { id: 'id', ts: 'ts', n: 'props.n', plan: 'props.plan' },
        batch: { maxEvents: 50, maxWaitMs: 10 },
      });
      const dispatcher = new Dispatcher({
        log,
        sinks: [{ config }],
        dispatch: { maxFailoverDuration: 200, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
        dataDir,
        logger: silentLogger,
        metrics: createMetrics(new Registry()),
      });
      const status = () => dispatcher.status()[0]!;
      await dispatcher.start();
      const sent = makeEvents(40, 0, (i) => (i === 3 || i === 30 ? { props: { n: 'many', plan: 'pro' } } : {}));
      await log.append(sent);
      await waitFor(() => status().deadLettered === 2 && status().lagEvents === 0, 'the dead letters');
      await dispatcher.stop(5000);
      assert.deepEqual(await count('typed', 'FINAL'), { rows: 38, ids: 38 });
      const entries = readFileSync(join(dataDir, 'dlq', 'typed.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: TrackedEvent; reason: string });
      assert.deepEqual(
        entries.map((e) => e.event.id),
        [sent[3]!.id, sent[30]!.id],
      );
      for (const entry of entries)
        assert.match(
          entry.reason,
          /clickhouse refused the row: Cannot parse input: .*while read the value of key n.*\(Code 27\)/,
        );
    });

    test('stops with what to fix on a missing table, database or column, or a wrong password; reconnects when refused', async () => {
      const noTable = await failure(sinkFor({ table: 'missing' }).open());
      assert.equal(noTable.kind, 'fatal');
      assert.match(
        noTable.message,
        new RegExp(`table ${DB}.missing does not exist: create it .* or set createTable: true`),
      );

      const noDb = await failure(sinkFor({ database: `no_such_db_${RUN}`, table: 'events' }).open());
      assert.equal(noDb.kind, 'fatal');
      assert.match(noDb.message, /database no_such_db_\w+ does not exist/);

      await run(`CREATE TABLE ${DB}.narrow (id String) ENGINE = ReplacingMergeTree() ORDER BY (id)`);
      const noColumn = await failure(sinkFor({ table: 'narrow', columns: { id: 'id', kind: 'type' } }).open());
      assert.equal(noColumn.kind, 'fatal');
      assert.match(noColumn.message, /has no column kind/);

      const auth = await failure(sinkFor({ table: 'narrow', user: 'beacon', password: 'wrong' }).open());
      assert.equal(auth.kind, 'fatal');
      assert.match(auth.message, /refused user "beacon": Wrong password .*Code 193.*check "user" and "password"/);
      const ok = sinkFor({ table: 'narrow', columns: { id: 'id' }, user: 'beacon', password: 'beacon' });
      await ok.open();
      await ok.close();

      const refused = await failure(sinkFor({ url: 'http://127.0.0.1:1', table: 'events' }).open());
      assert.equal(refused.kind, 'reconnect');
    });

    test('reconnects after the connection is cut and writes each id once', async () => {
      const sink = sinkFor({ table: 'cut', createTable: true });
      await sink.open();
      await sink.deliver(makeEvents(10));
      proxy.down();
      const err = await failure(sink.deliver(makeEvents(20)));
      assert.equal(err.kind, 'reconnect');
      proxy.restore();
      await sink.close();
      await sink.open();
      await sink.deliver(makeEvents(20));
      await sink.close();
      assert.deepEqual(await count('cut', 'FINAL'), { rows: 20, ids: 20 });
    });

    test("ends an INSERT the server never answers when the attempt's signal aborts (abort_signal), and at the loop's deadline (requestTimeoutMs); the next attempt writes the batch", async () => {
      // A front for the server that, while `silent`, swallows what the client sends (on its
      // open keep-alive connections and on new ones) and never answers.
      const pairs = new Set<{ client: Socket; upstream: Socket }>();
      let silent = false;
      let silentBytes = 0;
      let silentDropped = 0;
      const swallow = (client: Socket) => {
        client.on('data', (chunk: Buffer) => (silentBytes += chunk.length));
        client.on('close', () => silentDropped++);
        // unpipe() left the stream paused; a 'data' listener alone does not restart it.
        client.resume();
      };
      const front = createServer((client) => {
        const upstream = connect(server.port, '127.0.0.1');
        const pair = { client, upstream };
        pairs.add(pair);
        for (const s of [client, upstream])
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        client.on('close', () => {
          upstream.destroy();
          pairs.delete(pair);
        });
        if (silent) swallow(client);
        else {
          client.pipe(upstream);
          upstream.pipe(client);
        }
      });
      await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(front.address() as { port: number }).port}`;
      const silence = () => {
        silent = true;
        for (const { client, upstream } of pairs) {
          // Neither way: not even the server closing an idle keep-alive connection reaches the client.
          client.unpipe(upstream);
          upstream.unpipe(client);
          swallow(client);
        }
      };
      try {
        const patient = sinkFor({ url, table: 'unanswered', createTable: true, requestTimeoutMs: 30_000 });
        await patient.open();
        silence();
        const control = new AbortController();
        const delivering = patient.deliver(makeEvents(10), { signal: control.signal });
        delivering.catch(() => {});
        await waitUntil('the INSERT reaches the silent front', () => silentBytes > 0, 5000, 10);
        control.abort(new SinkError('retry', 'deadline', { errorType: 'timeout' }));
        const settled = await Promise.race([
          delivering.then(
            () => 'resolved',
            () => 'rejected',
          ),
          new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000).unref()),
        ]);
        assert.equal(settled, 'rejected', 'the aborted attempt failed at once');
        await waitUntil('the client drops the unanswered request', () => silentDropped > 0, 3000, 10);
        await patient.close();

        // As the loop runs it: the attempt deadline is requestTimeoutMs, and a timeout is retried.
        const sink = sinkFor({ url, table: 'unanswered', requestTimeoutMs: 800 });
        silent = false;
        await sink.open();
        silence();
        const started = Date.now();
        const err = await failure(runAttempt(sink, 'ch-test', (attempt) => sink.deliver(makeEvents(10), attempt)));
        const elapsed = Date.now() - started;
        assert.equal(err.kind, 'retry');
        assert.match(err.message, /no answer within 800 ms \(requestTimeoutMs\)/);
        assert.ok(elapsed >= 700 && elapsed < 2500, `the attempt ended at the deadline, after ${elapsed} ms`);
        // The server answers again (the swallowed connections are gone): the next attempt writes the batch.
        silent = false;
        for (const { client } of pairs) client.destroy();
        await sink.close();
        await sink.open();
        await sink.deliver(makeEvents(10));
        await sink.close();
        assert.deepEqual(await count('unanswered', 'FINAL'), { rows: 10, ids: 10 });
      } finally {
        for (const { client } of pairs) client.destroy();
        front.close();
      }
    });

    test('refuses configs that cannot work before connecting', () => {
      const parse = (extra: Record<string, unknown>) =>
        clickhouseConfigSchema.parse({ type: 'clickhouse', name: 'x', table: 'events', ...extra });
      assert.throws(() => parse({ url: 'clickhouse://h:9000' }), /http:\/\/ or https:\/\/ URL/);
      assert.throws(() => parse({ columns: { a: 'type' } }), /exactly one column must take the event .*id/);
      assert.throws(() => parse({ table: 'a;drop' }), /table name/);
      assert.equal(parse({}).url, 'http://localhost:8123');
    });

    test('measures insert throughput (diagnostic)', async (t) => {
      const sink = sinkFor({ url: server.url, table: 'throughput', createTable: true });
      await sink.open();
      const events = makeEvents(50_000);
      for (const size of [500, 5000]) {
        const begun = performance.now();
        for (let i = 0; i < events.length; i += size) await sink.deliver(events.slice(i, i + size));
        const seconds = (performance.now() - begun) / 1000;
        t.diagnostic(
          `clickhouse 18.16: ${Math.round(events.length / seconds)} rows/s in batches of ${size} (JSONEachRow over HTTP)`,
        );
      }
      await sink.close();
      assert.equal((await count('throughput', 'FINAL')).rows, 50_000);
    });
  });
}
