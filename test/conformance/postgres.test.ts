import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import { PostgresSink } from '../../src/sinks/postgres/postgresSink.js';
import { createTableSql } from '../../src/sql/postgres.js';
import { postgresConfigSchema } from '../../src/sinks/postgres/index.js';
import { DEFAULT_COLUMNS, columnMapping } from '../../src/sinks/sqlColumns.js';
import type { Sink } from '../../src/sinks/sink.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { runSinkConformance } from './sink.js';
import { failure, runSqlSinkConformance } from './sqlSink.js';

/**
 * The postgres sink against the machine's real PostgreSQL (127.0.0.1:5432, trust auth, user
 * postgres, database `test`), through a TcpProxy so the server can be "taken away" and
 * connections cut mid-batch without touching the shared server. Every table is named after
 * this run and dropped at the end.
 *
 * The conformance table has two columns of the harness's own: `seq bigserial` (arrival order,
 * so the suite's order check is meaningful) and `poison boolean`, fed from `props.poison`.
 * `rejectWhere` adds `CONSTRAINT "<reason>" CHECK (poison IS NOT TRUE)`: the suite's predicate
 * is a JavaScript function, and this CHECK is its SQL twin (checked against the predicate on
 * sample events), so PostgreSQL itself refuses the bad rows and its message names the reason.
 */

const RUN = randomUUID().slice(0, 8);
const admin = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 2 });
const proxy = new TcpProxy(5432);
const tables: string[] = [];

function tableFor(label: string): string {
  const table = `beacon_test_${RUN}_${label}`;
  tables.push(table);
  return table;
}

before(async () => {
  await proxy.start();
});

after(async () => {
  for (const table of tables) await admin.query(`DROP TABLE IF EXISTS public."${table}"`).catch(() => {});
  await proxy.stop();
  await admin.end();
});

const base = () => ({
  host: '127.0.0.1',
  port: proxy.port,
  user: 'postgres',
  database: 'test',
  connectTimeoutMs: 2000,
  queryTimeoutMs: 10_000,
});

/** A row of the default layout back to the event it came from (absent fields stay absent). */
function toEvent(row: Record<string, unknown>): TrackedEvent {
  const event: TrackedEvent = {
    id: String(row.id),
    type: String(row.type),
    ts: (row.ts as Date).getTime(),
    props: row.props as TrackedEvent['props'],
    meta: row.meta as TrackedEvent['meta'],
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
  if (row.client_ts !== null) event.clientTs = (row.client_ts as Date).getTime();
  for (const [field, column] of optional)
    if (row[column] !== null) (event as unknown as Record<string, unknown>)[field] = row[column];
  return event;
}

const conformanceTable = tableFor('conformance');
let pending: Promise<unknown> = Promise.resolve();

runSinkConformance('postgres', {
  ordered: true,
  config: () => ({
    type: 'postgres',
    ...base(),
    table: `public.${conformanceTable}`,
    columns: { ...DEFAULT_COLUMNS, poison: 'props.poison' },
  }),
  createSink: (config, context) => {
    const sink = new PostgresSink(postgresConfigSchema.parse(config), context);
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
    await admin.query(`DROP TABLE IF EXISTS public."${conformanceTable}"`);
    const ddl = createTableSql(`public.${conformanceTable}`, columnMapping(undefined)).replace(
      /\n\)$/,
      ',\n  seq bigserial,\n  poison boolean\n)',
    );
    await admin.query(ddl);
  },
  readBack: async () =>
    (await admin.query(`SELECT * FROM public."${conformanceTable}" ORDER BY seq`)).rows.map(toEvent),
  rejectWhere: (bad, reason) => {
    const sample = (props: Record<string, unknown>): TrackedEvent => ({ id: 'x', type: 't', ts: 0, props, meta: {} });
    assert.ok(
      bad(sample({ poison: true })) && !bad(sample({ n: 1 })) && !bad(sample({ poison: false })),
      'the CHECK below is the SQL twin of the suite predicate',
    );
    pending = admin.query(
      `ALTER TABLE public."${conformanceTable}" ADD CONSTRAINT "${reason.replaceAll('"', '""')}" CHECK (poison IS NOT TRUE)`,
    );
  },
});

function makeEvents(n: number, from = 0, extra: (i: number) => Partial<TrackedEvent> = () => ({})): TrackedEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      id: `p${RUN}-${String(i).padStart(6, '0')}`,
      type: 'order.created',
      ts: 1_700_000_000_000 + i,
      props: { n: i, plan: i % 2 ? 'pro' : 'free' },
      meta: { geo: { country: 'DE' } },
      ...extra(i),
    };
  });
}

function sinkFor(config: Record<string, unknown>): PostgresSink {
  return new PostgresSink(postgresConfigSchema.parse({ type: 'postgres', name: 'pg-test', ...base(), ...config }), {
    name: 'pg-test',
    logger: silentLogger,
  });
}

async function count(table: string): Promise<{ rows: number; ids: number }> {
  const r = await admin.query<{ rows: string; ids: string }>(
    `SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM public."${table}"`,
  );
  return { rows: Number(r.rows[0]!.rows), ids: Number(r.rows[0]!.ids) };
}

runSqlSinkConformance('postgres', {
  type: 'postgres',
  base,
  parse: (config) => postgresConfigSchema.parse(config),
  sinkFor,
  proxy,
  directPort: 5432,
  tableFor,
  makeEvents,
  count,
  exec: async (sql) => {
    await admin.query(sql);
  },
  quoted: (table) => `public."${table}"`,
  idType: 'text',
  createNarrowPartyTable: async (table) => {
    await admin.query(
      createTableSql(`public.${table}`, columnMapping(undefined)).replace('"party_id" text', '"party_id" varchar(8)'),
    );
  },
  tooLong: /value too long for type character varying\(8\).*SQLSTATE 22001/,
  throughputNote: 'COPY, new ids',
});

describe('postgres sink', () => {
  test('creates the documented table on open when createTable is set', async () => {
    const table = tableFor('created');
    const sink = sinkFor({ table, createTable: true });
    await sink.open();
    await sink.deliver(
      makeEvents(3, 0, (i) => (i === 0 ? { clientTs: 1_699_999_999_000, partyId: 'party', ip: '10.0.0.1' } : {})),
    );
    await sink.close();
    const columns = await admin.query<{ column_name: string; data_type: string; column_default: string | null }>(
      `SELECT column_name, data_type, column_default FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    assert.deepEqual(
      columns.rows.map((c) => `${c.column_name} ${c.data_type}`),
      [
        'id text',
        'type text',
        'ts timestamp with time zone',
        'client_ts timestamp with time zone',
        'party_id text',
        'session_id text',
        'page_view_id text',
        'ip text',
        'ua text',
        'url text',
        'referrer text',
        'props jsonb',
        'meta jsonb',
        'received_at timestamp with time zone',
      ],
    );
    assert.equal(columns.rows.at(-1)!.column_default, 'now()');
    const rows = (await admin.query(`SELECT * FROM public."${table}" ORDER BY id`)).rows;
    assert.deepEqual(
      toEvent(rows[0]!),
      makeEvents(1, 0, () => ({ clientTs: 1_699_999_999_000, partyId: 'party', ip: '10.0.0.1' }))[0],
    );
    assert.equal((rows[0]!.ts as Date).toISOString(), '2023-11-14T22:13:20.000Z');
  });

  test('writes text that COPY must escape (tabs, newlines, backslashes, a literal \\N) exactly as sent', async () => {
    const table = tableFor('escapes');
    await admin.query(createTableSql(`public.${table}`, columnMapping(undefined)));
    // COPY ignores rules and INSERT ... ON CONFLICT refuses a table that has one (0A000): with
    // this rule the batch can only go in by COPY, so the INSERT fallback cannot hide a bad escape.
    const shadow = tableFor('escapes_shadow');
    await admin.query(`CREATE TABLE public."${shadow}" (id text)`);
    await admin.query(
      `CREATE RULE copy_only AS ON INSERT TO public."${table}" DO ALSO INSERT INTO public."${shadow}" VALUES (NEW.id)`,
    );
    const sink = sinkFor({ table });
    await sink.open();
    const tricky = [
      'tab\there',
      'line\nbreak\r\n',
      'back\\slash\\',
      '\\N',
      '\\.',
      'quote " and \' and ,;|',
      'ünïcödé ✓ 😀',
      '',
    ];
    const sent = makeEvents(tricky.length, 0, (i) => ({
      partyId: tricky[i]!,
      url: `https://example.com/?q=${tricky[i]!}`,
      referrer: tricky[(i + 1) % tricky.length]!,
      props: { text: tricky[i]!, nested: { again: tricky[i]! } },
    }));
    await sink.deliver(sent);
    await sink.close();
    const rows = (await admin.query(`SELECT * FROM public."${table}" ORDER BY id`)).rows;
    assert.deepEqual(rows.map(toEvent), sent);
  });

  test('writes with the INSERT into a table whose row-level security refuses COPY', async () => {
    // COPY FROM is refused (0A000) when row-level security applies, which it does for a role
    // that neither owns the table nor bypasses RLS: such a role is made for this test.
    const table = tableFor('rls');
    const role = `beacon_test_${RUN}_rls`;
    await admin.query(createTableSql(`public.${table}`, columnMapping(undefined)));
    await admin.query(`ALTER TABLE public."${table}" ENABLE ROW LEVEL SECURITY`);
    await admin.query(`CREATE POLICY everything ON public."${table}" FOR ALL USING (true) WITH CHECK (true)`);
    await admin.query(`CREATE ROLE "${role}" LOGIN`);
    try {
      await admin.query(`GRANT SELECT, INSERT ON public."${table}" TO "${role}"`);
      const sink = sinkFor({ table, user: role });
      await sink.open();
      await sink.deliver(makeEvents(30));
      await sink.deliver(makeEvents(60));
      await sink.close();
      assert.deepEqual(await count(table), { rows: 60, ids: 60 });
    } finally {
      await admin.query(`DROP TABLE IF EXISTS public."${table}"`);
      await admin.query(`DROP ROLE IF EXISTS "${role}"`);
    }
  });

  test('maps columns to event fields and props/meta paths, into created or existing tables', async () => {
    const columns = {
      event_id: 'id',
      kind: 'type',
      at: 'ts',
      plan: 'props.plan',
      country: 'meta.geo.country',
      payload: 'props',
    };
    const created = tableFor('mapped');
    const sink = sinkFor({ table: `public.${created}`, createTable: true, columns });
    await sink.open();
    await sink.deliver(makeEvents(2));
    await sink.close();
    const rows = (await admin.query(`SELECT * FROM public."${created}" ORDER BY event_id`)).rows;
    assert.deepEqual(Object.keys(rows[0]!), ['event_id', 'kind', 'at', 'plan', 'country', 'payload', 'received_at']);
    assert.equal(rows[1]!.plan, 'pro'); // jsonb "pro"
    assert.equal(rows[0]!.country, 'DE');
    assert.deepEqual(rows[1]!.payload, { n: 1, plan: 'pro' });
    assert.equal((rows[0]!.at as Date).getTime(), 1_700_000_000_000);

    // An existing table with its own types: text for a props path, bigint milliseconds for ts.
    const existing = tableFor('mapped_existing');
    await admin.query(
      `CREATE TABLE public."${existing}" (event_id text PRIMARY KEY, at bigint NOT NULL, plan text, country varchar(2))`,
    );
    const into = sinkFor({
      table: existing,
      columns: { event_id: 'id', at: 'ts', plan: 'props.plan', country: 'meta.geo.country' },
    });
    await into.open();
    await into.deliver(makeEvents(2));
    await into.close();
    const got = (await admin.query(`SELECT * FROM public."${existing}" ORDER BY event_id`)).rows;
    assert.deepEqual(
      got.map((r) => [r.at, r.plan, r.country]),
      [
        ['1700000000000', 'free', 'DE'],
        ['1700000000001', 'pro', 'DE'],
      ],
    );
  });

  test('stops when the only unique index on the id column is partial', async () => {
    const partial = tableFor('partialkey');
    await admin.query(`CREATE TABLE public."${partial}" (id text)`);
    await admin.query(`CREATE UNIQUE INDEX ON public."${partial}" (id) WHERE id <> ''`);
    // Checked at open: the COPY fast path would write a redelivery twice into such a table.
    assert.match(
      (await failure(sinkFor({ table: partial, columns: { id: 'id' } }).open())).message,
      /must be the primary key/,
    );
  });

  test('stops on an unknown database, and reconnects when the server refuses connections', async () => {
    const err = await failure(sinkFor({ database: `no_such_db_${RUN}`, table: 'events' }).open());
    assert.equal(err.kind, 'fatal');
    assert.match(err.message, /does not exist: check "database"/);
    const refused = await failure(sinkFor({ port: 1, table: 'events' }).open());
    assert.equal(refused.kind, 'reconnect');
  });

  test('refuses configs that cannot work before connecting', () => {
    const parse = (extra: Record<string, unknown>) =>
      postgresConfigSchema.parse({ type: 'postgres', name: 'x', table: 'events', ...extra });
    assert.throws(() => parse({ url: 'postgres://u@h/db', host: 'h' }), /set either .*url.* or .*host.*, not both/);
    assert.throws(() => parse({ columns: { a: 'type' } }), /exactly one column must take the event .*id/);
    assert.throws(() => parse({ columns: { id: 'id', x: 'nope' } }), /nope.* is not an event field/);
    assert.throws(() => parse({ table: 'a;drop' }), /table name/);
  });
});
