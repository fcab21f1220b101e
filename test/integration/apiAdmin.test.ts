import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { watchLive as watch } from '../support/liveSocket.js';
import { startHttpReceiver, type HttpReceiver } from '../support/httpReceiver.js';
import { waitForValue, waitUntil } from '../support/waitFor.js';

/**
 * The admin endpoints and token auth through a real Beacon process: an http sink whose
 * receiver refuses some events fills a dead letter, read back through the API with a read
 * token, replayed with an admin token; every refusal has its code, the audit line names the
 * token holder, and no token ever shows in the process output or the config endpoint.
 */

const READ = 'it-read-token-0123456789abcdef';
const ADMIN = 'it-admin-token-0123456789abcdef';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface SinkLine {
  name: string;
  type: string;
  state: string;
  lagEvents: number;
  lagSeconds: number;
  delivered: number;
  deadLettered: number;
  lastError?: { message: string };
  deadLetters: { count: number; bytes: number };
}

interface DeadLetters {
  sink: string;
  count: number;
  bytes: number;
  samples: {
    ts: number;
    reason: string;
    errorType: string;
    event: { id: string; type: string; props: Record<string, unknown> };
  }[];
}

for (const workers of [1, 2]) {
  describe(`the admin API with tokens (${workers === 1 ? 'one process' : 'a primary and two collectors'})`, () => {
    let beacon: BeaconProcess;
    let receiver: HttpReceiver;
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${beacon.url}${path}`, { headers });

    before(async () => {
      receiver = await startHttpReceiver();
      receiver.rejectWhen((e) => (e.props as { bad?: boolean } | undefined)?.bad === true);
      beacon = await startBeacon(
        {
          server: { workers },
          logging: { level: 'info' },
          dispatch: { maxFailoverDuration: '1s', initialBackoff: '50ms' },
          api: {
            tokens: [
              { name: 'dashboard', token: READ, scopes: ['read'] },
              { name: 'ops', tokenEnv: 'IT_BEACON_ADMIN_TOKEN', scopes: ['admin'] },
            ],
          },
          sinks: [{ name: 'hook', type: 'http', url: receiver.url, batch: { maxEvents: 50, maxWaitMs: 20 } }],
        },
        { env: { IT_BEACON_ADMIN_TOKEN: ADMIN } },
      );
      const events = Array.from({ length: 30 }, (_, i) => ({
        type: 'order',
        id: `o-${i}`,
        props: { n: i, bad: i % 10 === 3 },
      }));
      const res = await fetch(`${beacon.url}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(events),
      });
      assert.equal(res.status, 200);
      await waitUntil(
        '3 dead letters',
        async () => {
          const r = await get('/api/v1/sinks', bearer(READ));
          const sinks = ((await r.json()) as { sinks: SinkLine[] }).sinks;
          return sinks[0]?.deadLetters.count === 3 && sinks[0].lagEvents === 0;
        },
        20_000,
      );
    });

    after(async () => {
      await beacon?.stop();
      await receiver?.stop();
      await beacon?.cleanup();
    });

    it('answers 401 with WWW-Authenticate to a request without a token, and keeps health and metrics open', async () => {
      const res = await get('/api/v1/sinks');
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="beacon"');
      assert.equal(((await res.json()) as { code: string }).code, 'BEACON_E_UNAUTHORIZED');
      for (const open of ['/healthz', '/readyz', '/metrics']) assert.equal((await get(open)).status, 200, open);
    });

    it('lists every sink with state, lag, counts and the dead letters waiting', async () => {
      const res = await get('/api/v1/sinks', bearer(READ));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const [hook] = ((await res.json()) as { sinks: SinkLine[] }).sinks;
      assert.equal(hook?.name, 'hook');
      assert.equal(hook?.type, 'http');
      assert.ok(['idle', 'delivering'].includes(hook!.state), hook!.state);
      assert.equal(hook?.lagEvents, 0);
      assert.equal(typeof hook?.lagSeconds, 'number');
      assert.equal(hook?.delivered, 27);
      assert.equal(hook?.deadLettered, 3);
      assert.equal(hook?.deadLetters.count, 3);
      assert.ok(hook!.deadLetters.bytes > 0);
    });

    it("shows a sink's dead letters: count, bytes and the newest samples with reason and event", async () => {
      const res = await get('/api/v1/sinks/hook/dead-letters?limit=2', bearer(READ));
      assert.equal(res.status, 200);
      const body = (await res.json()) as DeadLetters;
      assert.equal(body.sink, 'hook');
      assert.equal(body.count, 3);
      assert.ok(body.bytes > 0);
      assert.equal(body.samples.length, 2);
      for (const s of body.samples) {
        assert.match(s.reason, /400/);
        assert.equal(typeof s.errorType, 'string');
        assert.ok(s.ts > 0);
        assert.equal(s.event.type, 'order');
        assert.equal(s.event.props.bad, true);
      }
      const all = (await (await get('/api/v1/sinks/hook/dead-letters', bearer(READ))).json()) as DeadLetters;
      assert.deepEqual(all.samples.map((s) => s.event.id).sort(), ['o-13', 'o-23', 'o-3']);
    });

    it('refuses a bad limit with BEACON_E_BAD_QUERY and an unknown sink with BEACON_E_SINK_UNKNOWN', async () => {
      const bad = await get('/api/v1/sinks/hook/dead-letters?limit=lots', bearer(READ));
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { code: string }).code, 'BEACON_E_BAD_QUERY');
      const unknown = await get('/api/v1/sinks/nope/dead-letters', bearer(READ));
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as { code: string }).code, 'BEACON_E_SINK_UNKNOWN');
    });

    it('answers 403 to replay and config with a read token, 405 to a GET on replay', async () => {
      const replay = await fetch(`${beacon.url}/api/v1/sinks/hook/replay`, {
        method: 'POST',
        headers: bearer(READ),
        body: '{"from":"dead-letter"}',
      });
      assert.equal(replay.status, 403);
      assert.equal(((await replay.json()) as { code: string }).code, 'BEACON_E_FORBIDDEN');
      assert.equal((await get('/api/v1/config', bearer(READ))).status, 403);
      const wrongMethod = await get('/api/v1/sinks/hook/replay', bearer(ADMIN));
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.get('allow'), 'POST');
    });

    it('replays the dead letters with an admin token (from tokenEnv), and the counts change', async () => {
      receiver.rejectWhen(undefined);
      const res = await fetch(`${beacon.url}/api/v1/sinks/hook/replay`, {
        method: 'POST',
        headers: { ...bearer(ADMIN), 'x-forwarded-for': '198.51.100.7' },
        body: '{"from":"dead-letter"}',
      });
      assert.equal(res.status, 200);
      const result = (await res.json()) as { replayed: number; delivered: number };
      assert.equal(result.replayed, 3);
      assert.equal(result.delivered, 3);
      const after = (await (await get('/api/v1/sinks/hook/dead-letters', bearer(ADMIN))).json()) as DeadLetters;
      assert.equal(after.count, 0);
      assert.deepEqual(after.samples, []);
      const audit = await waitForValue(
        'the audit line of the replay',
        () =>
          beacon
            .output()
            .split('\n')
            .filter((l) => l.includes('"audit":true') && l.includes('"status":200'))
            .map((l) => JSON.parse(l) as Record<string, unknown>)[0],
      );
      assert.equal(audit.who, 'ops');
      assert.equal(audit.action, 'POST /api/v1/sinks/hook/replay');
      assert.equal(audit.ip, '127.0.0.1');
      assert.equal(audit.forwardedFor, '198.51.100.7');
      assert.equal(typeof audit.time, 'string');
    });

    it('serves the config to an admin with every token hidden', async () => {
      const res = await get('/api/v1/config', bearer(ADMIN));
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.ok(!text.includes(READ) && !text.includes(ADMIN), 'a token is in the config answer');
      const tokens = (JSON.parse(text) as { api: { tokens: { name: string; token?: string }[] } }).api.tokens;
      assert.deepEqual(
        tokens.map((t) => t.name),
        ['dashboard', 'ops'],
      );
      assert.equal(tokens[0]!.token, '***');
    });

    it('lets /live viewers in with a read token in the header or ?token=, and closes others with 4401', async () => {
      const live = beacon.url.replace('http:', 'ws:') + '/live';
      const refused = await watch(live);
      assert.equal(refused.code, 4401);
      assert.match(refused.reason ?? '', /BEACON_E_UNAUTHORIZED/);
      assert.equal((await watch(`${live}?token=wrong-token-0123456789`)).code, 4401);
      assert.match((await watch(`${live}?token=${READ}&type=order`)).message ?? '', /"kind":"ready"/);
      assert.match((await watch(live, { headers: bearer(ADMIN) })).message ?? '', /"kind":"ready"/);
    });

    it('lets `beacon status` use BEACON_TOKEN, and says what to do without it', async () => {
      const ok = await runCli(['status', '--url', beacon.url], { env: { BEACON_TOKEN: READ } });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /hook/);
      const refused = await runCli(['status', '--url', beacon.url], { env: { BEACON_TOKEN: '' } });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /401.*BEACON_E_UNAUTHORIZED/);
    });

    it('never writes a token to its output, and does not warn about an open API', () => {
      const out = beacon.output();
      assert.ok(!out.includes(READ) && !out.includes(ADMIN), 'a token is in the process output');
      assert.ok(!out.includes('open to anyone'));
    });
  });
}
