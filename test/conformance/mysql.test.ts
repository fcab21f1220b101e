import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import { MysqlSink } from '../../src/sinks/mysql/mysqlSink.js';
import { createTableSql } from '../../src/sql/mysql.js';
import { mysqlConfigSchema } from '../../src/sinks/mysql/index.js';
import { DEFAULT_COLUMNS, columnMapping } from '../../src/sinks/sqlColumns.js';
import { SinkError, type Sink } from '../../src/sinks/sink.js';
import { runAttempt } from '../../src/dispatch/deadline.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { captureLogger } from '../unit/dispatch/fakes.js';
import { runSinkConformance } from './sink.js';
import { failure, runSqlSinkConformance } from './sqlSink.js';

/**
 * The mysql sink against the machine's real MariaDB (127.0.0.1:3306, root with an empty
 * password, database `test`), through a TcpProxy so the server can be "taken away" and
 * connections cut mid-batch without touching the shared server. Every table is named after
 * this run and dropped at the end.
 *
 * The conformance table has two columns of the harness's own: `seq` (AUTO_INCREMENT: arrival
 * order) and `poison BOOLEAN`, fed from `props.poison`. `rejectWhere` adds
 * ``CONSTRAINT `<reason>` CHECK (poison IS NOT TRUE)``, the SQL twin of the suite's predicate
 * (checked on sample events), so the server itself refuses the bad rows and names the reason.
 */

const RUN = randomUUID().slice(0, 8);
const admin = mysql.createPool({
  host: '127.0.0.1',
  port: 3306,
  user: 'root',
  password: '',
  database: 'test',
  timezone: 'Z',
  connectionLimit: 2,
});
const proxy = new TcpProxy(3306);
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
  for (const table of tables) await admin.query(`DROP TABLE IF EXISTS \`${table}\``).catch(() => {});
  await proxy.stop();
  await admin.end();
});

const base = () => ({
  host: '127.0.0.1',
  port: proxy.port,
  user: 'root',
  database: 'test',
  connectTimeoutMs: 2000,
  queryTimeoutMs: 10_000,
});

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const [result] = await admin.query<mysql.RowDataPacket[]>(sql);
  return result;
}

/** How many LOAD DATA statements the server ran since it started (all sessions). */
async function comLoad(): Promise<number> {
  const [r] = await rows("SHOW GLOBAL STATUS LIKE 'Com_load'");
  return Number(r!.Value);
}

/**
 * Runs `body` while another session holds `LOCK TABLES <table> WRITE`, so the sink's
 * statements on it wait (for the metadata lock, up to lock_wait_timeout: a day by default).
 * The lock is released however `body` ends.
 */
async function withTableLocked(table: string, body: () => Promise<void>): Promise<void> {
  const locker = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database: 'test' });
  try {
    await locker.query(`LOCK TABLES \`${table}\` WRITE`);
    await body();
  } finally {
    await locker.query('UNLOCK TABLES').catch(() => {});
    await locker.end();
  }
}

/** Statements of other sessions waiting for a lock on `table`. */
async function waitingOn(table: string): Promise<number> {
  const [r] = await rows(
    `SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table%lock' AND INFO LIKE '%${table}%' AND ID <> CONNECTION_ID()`,
  );
  return Number(r!.n);
}

async function untilStatementWaitsOn(table: string): Promise<void> {
  for (let i = 0; i < 50 && (await waitingOn(table)) === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok((await waitingOn(table)) > 0, `a statement of the sink waits on ${table}`);
}

/** The server dropped the sink's waiting statement (its session went with the connection), within 2 s. */
async function untilNoStatementWaitsOn(table: string): Promise<void> {
  for (let i = 0; i < 40 && (await waitingOn(table)) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await waitingOn(table), 0, `no statement still waits on ${table}`);
}

/** MariaDB hands JSON columns back as text, MySQL as objects. */
const json = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);

/** A row of the default layout back to the event it came from (absent fields stay absent). */
function toEvent(row: Record<string, unknown>): TrackedEvent {
  const event: TrackedEvent = {
    id: String(row.id),
    type: String(row.type),
    ts: (row.ts as Date).getTime(),
    props: json(row.props),
    meta: json(row.meta),
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

runSinkConformance('mysql', {
  ordered: true,
  config: () => ({
    type: 'mysql',
    ...base(),
    table: `test.${conformanceTable}`,
    columns: { ...DEFAULT_COLUMNS, poison: 'props.poison' },
  }),
  createSink: (config, context) => {
    const sink = new MysqlSink(mysqlConfigSchema.parse(config), context);
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
    await admin.query(`DROP TABLE IF EXISTS \`${conformanceTable}\``);
    const ddl = createTableSql(conformanceTable, columnMapping(undefined)).replace(
      /\n\) ENGINE/,
      ',\n  seq BIGINT NOT NULL AUTO_INCREMENT UNIQUE,\n  poison BOOLEAN\n) ENGINE',
    );
    await admin.query(ddl);
  },
  readBack: async () => (await rows(`SELECT * FROM \`${conformanceTable}\` ORDER BY seq`)).map(toEvent),
  rejectWhere: (bad, reason) => {
    const sample = (props: Record<string, unknown>): TrackedEvent => ({ id: 'x', type: 't', ts: 0, props, meta: {} });
    assert.ok(
      bad(sample({ poison: true })) && !bad(sample({ n: 1 })) && !bad(sample({ poison: false })),
      'the CHECK below is the SQL twin of the suite predicate',
    );
    pending = admin.query(
      `ALTER TABLE \`${conformanceTable}\` ADD CONSTRAINT \`${reason.replaceAll('`', '``')}\` CHECK (poison IS NOT TRUE)`,
    );
  },
});

function makeEvents(n: number, from = 0, extra: (i: number) => Partial<TrackedEvent> = () => ({})): TrackedEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      id: `m${RUN}-${String(i).padStart(6, '0')}`,
      type: 'order.created',
      ts: 1_700_000_000_000 + i,
      props: { n: i, plan: i % 2 ? 'pro' : 'free' },
      meta: { geo: { country: 'DE' } },
      ...extra(i),
    };
  });
}

function sinkFor(config: Record<string, unknown>): MysqlSink {
  return new MysqlSink(mysqlConfigSchema.parse({ type: 'mysql', name: 'mysql-test', ...base(), ...config }), {
    name: 'mysql-test',
    logger: silentLogger,
  });
}

async function count(table: string, id = 'id'): Promise<{ rows: number; ids: number }> {
  const [r] = await rows(`SELECT count(*) AS n, count(DISTINCT \`${id}\`) AS ids FROM \`${table}\``);
  return { rows: Number(r!.n), ids: Number(r!.ids) };
}

runSqlSinkConformance('mysql', {
  type: 'mysql',
  base,
  parse: (config) => mysqlConfigSchema.parse(config),
  sinkFor,
  proxy,
  directPort: 3306,
  tableFor,
  makeEvents,
  count: (table) => count(table),
  exec: async (sql) => {
    await admin.query(sql);
  },
  quoted: (table) => `\`${table}\``,
  idType: 'VARCHAR(64)',
  createNarrowPartyTable: async (table) => {
    await admin.query(
      createTableSql(table, columnMapping(undefined)).replace('`party_id` VARCHAR(255)', '`party_id` VARCHAR(8)'),
    );
  },
  tooLong: /Data too long for column 'party_id'.*1406/,
  afterTooLong: async (table) => {
    assert.deepEqual(
      await rows(`SELECT id FROM \`${table}\` WHERE party_id LIKE 'a-party%'`),
      [],
      'no truncated row (as INSERT IGNORE would write)',
    );
  },
  throughputNote: 'LOAD DATA LOCAL INFILE, new ids',
});

describe('mysql sink', () => {
  test('creates the documented table on open when createTable is set', async () => {
    const table = tableFor('created');
    const sink = sinkFor({ table, createTable: true });
    await sink.open();
    await sink.deliver(
      makeEvents(3, 0, (i) => (i === 0 ? { clientTs: 1_699_999_999_000, partyId: 'party', ip: '10.0.0.1' } : {})),
    );
    await sink.close();
    const columns = await rows(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'test' AND TABLE_NAME = '${table}' ORDER BY ORDINAL_POSITION`,
    );
    assert.deepEqual(
      columns.map((c) => `${c.name} ${c.type}`),
      [
        'id varchar(255)',
        'type varchar(255)',
        'ts datetime(3)',
        'client_ts datetime(3)',
        'party_id varchar(255)',
        'session_id varchar(255)',
        'page_view_id varchar(255)',
        'ip varchar(255)',
        'ua text',
        'url text',
        'referrer text',
        'props longtext',
        'meta longtext',
        'received_at datetime(3)',
      ],
    );
    const got = await rows(`SELECT * FROM \`${table}\` ORDER BY id`);
    assert.deepEqual(
      toEvent(got[0]!),
      makeEvents(1, 0, () => ({ clientTs: 1_699_999_999_000, partyId: 'party', ip: '10.0.0.1' }))[0],
    );
    const [utc] = await rows(
      `SELECT DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f') AS ts FROM \`${table}\` ORDER BY id LIMIT 1`,
    );
    assert.equal(utc!.ts, '2023-11-14 22:13:20.000000', 'DATETIME holds UTC');
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
    const sink = sinkFor({ table: `test.${created}`, createTable: true, columns });
    await sink.open();
    await sink.deliver(makeEvents(2));
    await sink.close();
    const got = await rows(`SELECT * FROM \`${created}\` ORDER BY event_id`);
    assert.deepEqual(Object.keys(got[0]!), ['event_id', 'kind', 'at', 'plan', 'country', 'payload', 'received_at']);
    const text = await rows(
      `SELECT CONCAT(plan) AS plan, CONCAT(country) AS country FROM \`${created}\` ORDER BY event_id`,
    );
    assert.deepEqual(
      text.map((r) => [r.plan, r.country]),
      [
        ['"free"', '"DE"'],
        ['"pro"', '"DE"'],
      ],
      'JSON values in JSON columns',
    );
    assert.deepEqual(json(got[1]!.payload), { n: 1, plan: 'pro' });
    assert.equal((got[0]!.at as Date).getTime(), 1_700_000_000_000);

    // An existing table with its own types: text for a props path, BIGINT milliseconds for ts.
    const existing = tableFor('mapped_existing');
    await admin.query(
      `CREATE TABLE \`${existing}\` (event_id VARCHAR(64) PRIMARY KEY, at BIGINT NOT NULL, plan TEXT, country CHAR(2))`,
    );
    const into = sinkFor({
      table: existing,
      columns: { event_id: 'id', at: 'ts', plan: 'props.plan', country: 'meta.geo.country' },
    });
    await into.open();
    await into.deliver(makeEvents(2));
    await into.close();
    const back = await rows(`SELECT * FROM \`${existing}\` ORDER BY event_id`);
    assert.deepEqual(
      back.map((r) => [String(r.at), r.plan, r.country]),
      [
        ['1700000000000', 'free', 'DE'],
        ['1700000000001', 'pro', 'DE'],
      ],
    );
  });

  test('stops on a wrong password or an unknown database, and reconnects when the server refuses connections', async () => {
    const denied = await failure(sinkFor({ password: 'not-the-password', table: 'events' }).open());
    assert.equal(denied.kind, 'fatal');
    assert.match(denied.message, /refused user "root".*check user and password/);
    const err = await failure(sinkFor({ database: `no_such_db_${RUN}`, table: 'events' }).open());
    assert.equal(err.kind, 'fatal');
    assert.match(err.message, /Unknown database.*check "database"/);
    const refused = await failure(sinkFor({ port: 1, table: 'events' }).open());
    assert.equal(refused.kind, 'reconnect');
  });

  test('loads a fresh batch with LOAD DATA LOCAL, writing text it must escape (tabs, newlines, backslashes, a literal \\N) exactly as sent', async () => {
    const table = tableFor('escapes');
    const sink = sinkFor({ table, createTable: true });
    await sink.open();
    const tricky = [
      'tab\there',
      'line\nbreak\r\n',
      'back\\slash\\',
      '\\N',
      'NULL',
      'nul\0byte and ctrl-z \x1a',
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
    const loadsBefore = await comLoad();
    await sink.deliver(sent);
    await sink.close();
    assert.ok((await comLoad()) > loadsBefore, 'the batch went in by LOAD DATA (the server counted a load)');
    assert.deepEqual((await rows(`SELECT * FROM \`${table}\` ORDER BY id`)).map(toEvent), sent);
  });

  test('writes with INSERT, after one warning naming local_infile, when LOAD DATA LOCAL is refused', async () => {
    const table = tableFor('noinfile');
    const { logger, lines } = captureLogger();
    // A client without the LOCAL_FILES capability: MariaDB refuses the load as it does with local_infile=OFF.
    const sink = new MysqlSink(
      mysqlConfigSchema.parse({ type: 'mysql', name: 'noinfile', ...base(), table, createTable: true }),
      { name: 'noinfile', logger },
      { clientFlags: ['-LOCAL_FILES'] },
    );
    await sink.open();
    await sink.deliver(makeEvents(30));
    await sink.deliver(makeEvents(60));
    await sink.close();
    assert.deepEqual(await count(table), { rows: 60, ids: 60 });
    const warnings = lines.filter((l) => /local_infile/.test(String(l.msg)));
    assert.equal(warnings.length, 1, 'one warning, not one per batch');
    assert.equal(warnings[0]!.level, 40);
  });

  test("ends a statement held by another session's table lock at the loop's attempt deadline, and writes the batch on a new connection once the lock goes", async () => {
    const table = tableFor('locked');
    await admin.query(createTableSql(table, columnMapping(undefined)));
    const sink = sinkFor({ table, queryTimeoutMs: 800 });
    await sink.open();
    await withTableLocked(table, async () => {
      const started = Date.now();
      const err = await failure(runAttempt(sink, 'mysql-test', (attempt) => sink.deliver(makeEvents(20), attempt)));
      const elapsed = Date.now() - started;
      assert.equal(err.kind, 'reconnect');
      assert.equal(err.errorType, 'timeout');
      assert.match(err.message, /within 800 ms \(queryTimeoutMs\)/);
      assert.ok(elapsed >= 700 && elapsed < 2500, `the attempt ended at the deadline, after ${elapsed} ms`);
      await untilNoStatementWaitsOn(table);
    });
    // What the loop does after a `reconnect`: close, open (a new connection), the same batch again.
    await sink.close();
    await sink.open();
    await sink.deliver(makeEvents(20));
    await sink.close();
    assert.deepEqual(await count(table), { rows: 20, ids: 20 });
  });

  test("ends the statement at once when the attempt's signal aborts, without waiting for queryTimeoutMs", async () => {
    const table = tableFor('aborted');
    await admin.query(createTableSql(table, columnMapping(undefined)));
    const sink = sinkFor({ table, queryTimeoutMs: 30_000 });
    await sink.open();
    await withTableLocked(table, async () => {
      const control = new AbortController();
      const delivering = sink.deliver(makeEvents(5), { signal: control.signal });
      delivering.catch(() => {});
      await untilStatementWaitsOn(table);
      control.abort(new SinkError('reconnect', 'deadline', { errorType: 'timeout' }));
      const settled = await Promise.race([
        delivering.then(
          () => 'resolved',
          () => 'rejected',
        ),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000).unref()),
      ]);
      assert.equal(settled, 'rejected', 'the aborted attempt failed at once');
      await untilNoStatementWaitsOn(table);
    });
    const lost = await failure(sink.deliver(makeEvents(5)));
    assert.equal(lost.kind, 'reconnect', 'the abandoned connection is not used again');
    await sink.open();
    await sink.deliver(makeEvents(5));
    await sink.close();
    assert.deepEqual(await count(table), { rows: 5, ids: 5 });
  });

  test('refuses configs that cannot work before connecting', () => {
    const parse = (extra: Record<string, unknown>) =>
      mysqlConfigSchema.parse({ type: 'mysql', name: 'x', table: 'events', ...extra });
    assert.throws(
      () => parse({ url: 'mysql://u@h/db', password: 'p' }),
      /set either .*url.* or .*password.*, not both/,
    );
    assert.throws(() => parse({ columns: { a: 'type' } }), /exactly one column must take the event .*id/);
    assert.throws(() => parse({ url: 'postgres://h/db' }), /mysql:\/\/ or mariadb:\/\//);
  });
});
