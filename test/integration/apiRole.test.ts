import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { runCli, startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * `beacon start --role api` through the real CLI: a `--role all` Beacon writes events into a
 * real PostgreSQL table with the postgres sink, and a second process that runs only the API
 * answers queries from that table; with the embedded store the role refuses to start.
 */

const READ = 'role-api-read-token-0123456789';
const table = `beacon_role_api_${randomBytes(4).toString('hex')}`;
const db = new pg.Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 2 });
const sink = {
  name: 'events',
  type: 'postgres',
  host: '127.0.0.1',
  port: 5432,
  user: 'postgres',
  database: 'test',
  table: `public.${table}`,
  createTable: true,
  batch: { maxEvents: 100, maxWaitMs: 20 },
};
const bearer = { authorization: `Bearer ${READ}` };

describe('beacon start --role api', () => {
  let writer: BeaconProcess;
  let api: BeaconProcess;
  const ids = Array.from({ length: 30 }, (_, i) => `role-api-${i}`);

  before(async () => {
    writer = await startBeacon({ store: { type: 'none' }, sinks: [sink] });
    const events = ids.map((id, i) => ({
      type: i < 20 ? 'signup' : 'login',
      id,
      props: { plan: i % 2 ? 'pro' : 'free' },
    }));
    const res = await fetch(`${writer.url}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    assert.equal(res.status, 200);
    await waitUntil(
      '30 rows in the table',
      async () => {
        const rows = await db
          .query(`SELECT count(*)::int AS n FROM public.${table}`)
          .catch(() => ({ rows: [{ n: 0 }] }));
        return rows.rows[0].n === 30;
      },
      20_000,
    );
    api = await startBeacon(
      {
        store: { type: 'postgres', sink: 'events' },
        sinks: [{ ...sink, createTable: false }],
        api: { tokens: [{ name: 'grafana', token: READ, scopes: ['read'] }] },
      },
      { args: ['--role', 'api'] },
    );
  });

  after(async () => {
    await api?.stop();
    await writer?.stop();
    await Promise.all([api?.cleanup(), writer?.cleanup()]);
    await db.query(`DROP TABLE IF EXISTS public.${table}`);
    await db.end();
  });

  it('answers real-time queries from the table the postgres sink writes', async () => {
    const res = await fetch(`${api.url}/api/v1/query/events?type=signup&limit=100`, { headers: bearer });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('cache-control'), 'private, max-age=2');
    const { events } = (await res.json()) as { events: { id: string; type: string; props: { plan: string } }[] };
    assert.equal(events.length, 20);
    assert.ok(events.every((e) => e.type === 'signup'));
    const counts = (await (
      await fetch(`${api.url}/api/v1/query/counts/recent?minutes=5`, { headers: bearer })
    ).json()) as { buckets: { counts: Record<string, number> }[] };
    const totals: Record<string, number> = {};
    for (const b of counts.buckets)
      for (const [type, n] of Object.entries(b.counts)) totals[type] = (totals[type] ?? 0) + n;
    assert.deepEqual(totals, { signup: 20, login: 10 });
  });

  it('answers archive queries too, and 401 without a token', async () => {
    const one = await fetch(`${api.url}/api/v1/query/events/${ids[25]}`, { headers: bearer });
    assert.equal(one.status, 200);
    assert.match(one.headers.get('cache-control') ?? '', /^private, max-age=(3600|3599)$/);
    assert.equal(((await one.json()) as { type: string }).type, 'login');
    const anonymous = await fetch(`${api.url}/api/v1/query/events`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { code: string }).code, 'BEACON_E_UNAUTHORIZED');
  });

  it('serves a repeated query from its micro-cache and counts it in /metrics', async () => {
    const url = `${api.url}/api/v1/query/rate?window=30s`;
    const first = await fetch(url, { headers: bearer });
    const second = await fetch(url, { headers: { ...bearer, 'if-none-match': first.headers.get('etag')! } });
    await first.text();
    assert.equal(second.status, 304);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    assert.match(metrics, /beacon_api_cache_requests_total\{class="realtime",result="hit"\} [1-9]/);
    assert.match(metrics, /beacon_store_queries_total\{[^}]*outcome="ok"[^}]*\} [1-9]/);
  });

  it('runs no collector, dispatcher, log or web page: those paths are 404, nothing is written under dataDir', async () => {
    const batch = await fetch(`${api.url}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[{"type":"x"}]',
    });
    assert.equal(batch.status, 404);
    assert.equal(((await batch.json()) as { code: string }).code, 'BEACON_E_NOT_FOUND');
    assert.equal((await fetch(`${api.url}/t/pixel`)).status, 404);
    assert.equal(
      (await fetch(`${api.url}/`)).status,
      404,
      'the web page needs the live stream and sinks, which this role does not run',
    );
    assert.equal((await fetch(`${api.url}/api/v1/sinks`, { headers: bearer })).status, 404);
    for (const open of ['/healthz', '/readyz']) assert.equal((await fetch(`${api.url}${open}`)).status, 200, open);
    assert.ok(!existsSync(join(api.dataDir, 'log')), 'the API process made a log');
    assert.ok(!existsSync(join(api.dataDir, 'store')), 'the API process made a store');
  });

  it('stops cleanly on SIGTERM', async () => {
    assert.equal(await api.stop(), 0);
  });
});

describe('beacon start --role api with the embedded store', () => {
  it('refuses to start, saying why and what to do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beacon-role-api-'));
    try {
      const config = join(dir, 'beacon.yaml');
      await writeFile(
        config,
        stringify({
          dataDir: join(dir, 'data'),
          server: { host: '127.0.0.1', port: 0 },
          sinks: [{ name: 'archive', type: 'file', path: join(dir, 'out.ndjson') }],
        }),
      );
      const res = await runCli(['start', '--role', 'api', '--config', config], { cwd: dir, timeoutMs: 30_000 });
      assert.equal(res.code, 1);
      assert.match(
        res.stderr,
        /error BEACON_E_ROLE_CONFIG: --role api needs store\.type postgres, mysql or clickhouse \(got embedded\)/,
      );
      assert.match(res.stderr, /DuckDB/);
      assert.match(res.stderr, /what to do:/);
      assert.ok(!existsSync(join(dir, 'data')), 'it created a data dir before refusing');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown role with the list of roles', async () => {
    const res = await runCli(['start', '--role', 'router']);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Allowed choices are all, collector, dispatcher, api/);
  });
});
