import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { networkInterfaces } from 'node:os';
import { runCli, startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { watchLive as watch } from '../support/liveSocket.js';

/**
 * The admin surface through a real Beacon bound to 0.0.0.0 (docs/security.md): with no tokens
 * it answers the admin and query API and /live only on loopback, while the collector stays
 * public; cross-site state changes, foreign WebSocket origins and unknown Host names are
 * refused with a code; the same requests work from loopback, from the page's own origin, and
 * from another machine with a token.
 *
 * "Another machine" is this one reached at its own non-loopback address (the kernel then makes
 * that address the peer), so the decision Beacon makes is on a real socket's remote address.
 */

const ADMIN = 'it-admin-token-0123456789abcdef';
/** A CLI start compiles TypeScript: on a loaded machine it can take tens of seconds. */
const CLI_TIMEOUT = 120_000;

/** This machine's first non-loopback IPv4 address; a connection to it comes from it, not from 127.0.0.1. */
function lanAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
const LAN = lanAddress();
const noLan = LAN === undefined ? 'this machine has no non-loopback IPv4 address' : false;

interface Answer {
  status: number;
  code?: string;
  message?: string;
  body: string;
}

/** A request with any Host header (fetch will not send a chosen Host). */
function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        let parsed: { code?: string; message?: string } = {};
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch {
          // not JSON (metrics, the pixel)
        }
        resolve({ status: res.statusCode ?? 0, code: parsed.code, message: parsed.message, body });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const ADMIN_READS = [
  '/api/v1/status',
  '/api/v1/sinks',
  '/api/v1/config',
  '/api/v1/sinks/archive/dead-letters',
  '/api/v1/query/counts/recent',
  '/api/v1/throughput',
];

describe('the admin surface of a Beacon bound to 0.0.0.0 with no tokens', () => {
  let beacon: BeaconProcess;
  let local: string;
  let lan: string;

  before(async () => {
    beacon = await startBeacon({
      server: { host: '0.0.0.0' },
      logging: { level: 'info' },
      sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson', batch: { maxEvents: 50, maxWaitMs: 20 } }],
    });
    local = beacon.url;
    lan = `http://${LAN ?? '127.0.0.1'}:${beacon.port}`;
  });
  after(async () => {
    await beacon?.stop();
    await beacon?.cleanup();
  });

  it('says at start that the admin surface answers on loopback only, and where to read why', async () => {
    await beacon.waitForOutput(/admin and query API, \/live: loopback only \(no api\.tokens configured/);
    assert.match(beacon.output(), /docs\/security\.md/);
  });

  it(
    'refuses the admin and query API to a client on another address, with a code that says what to do',
    { skip: noLan },
    async () => {
      for (const path of ADMIN_READS) {
        const res = await call(`${lan}${path}`);
        assert.equal(res.status, 403, path);
        assert.equal(res.code, 'BEACON_E_ADMIN_LOOPBACK_ONLY', path);
        assert.match(
          res.message ?? '',
          new RegExp(`came from ${LAN!.replace(/\./g, '\\.')}.*api\\.tokens.*docs/security\\.md`),
        );
      }
      for (const path of ['/api/v1/reload', '/api/v1/sinks/archive/replay']) {
        const res = await call(`${lan}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"from":"start"}',
        });
        assert.equal(res.code, 'BEACON_E_ADMIN_LOOPBACK_ONLY', path);
      }
      const forged = await call(`${lan}/api/v1/config`, { headers: { 'x-forwarded-for': '127.0.0.1' } });
      assert.equal(
        forged.code,
        'BEACON_E_ADMIN_LOOPBACK_ONLY',
        'X-Forwarded-For is not read without server.trustProxy',
      );
    },
  );

  it('refuses /live to a client on another address', { skip: noLan }, async () => {
    const refused = await watch(`${lan.replace('http', 'ws')}/live`);
    assert.equal(refused.code, 4403);
    assert.match(refused.reason ?? '', /BEACON_E_ADMIN_LOOPBACK_ONLY/);
  });

  it('keeps the collector, health and metrics public to that client', { skip: noLan }, async () => {
    assert.equal((await call(`${lan}/t/pageview?from=lan`)).status, 204);
    assert.equal(
      (
        await call(`${lan}/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '[{"type":"signup"}]',
        })
      ).status,
      200,
    );
    assert.equal((await call(`${lan}/metrics`)).status, 200);
    assert.equal((await call(`${lan}/readyz`)).status, 200);
  });

  it('answers the same API from loopback', async () => {
    for (const path of ADMIN_READS) assert.equal((await call(`${local}${path}`)).status, 200, path);
  });

  it('lets beacon status, replay, reload and tail work on loopback', async () => {
    // tail follows from the end: keep sending until it has shown one. The four run at once (each CLI start is slow on a busy machine).
    const sender = setInterval(() => void call(`${local}/t/tail_check?n=1`).catch(() => undefined), 200);
    const [status, replay, reload, tail] = await Promise.all([
      runCli(['status', '--url', local], { timeoutMs: CLI_TIMEOUT }),
      runCli(['replay', '--sink', 'archive', '--from-start', '--no-wait', '--url', local], { timeoutMs: CLI_TIMEOUT }),
      runCli(['reload', '--url', local], { timeoutMs: CLI_TIMEOUT }),
      runCli(['tail', '--count', '1', '--url', local], { timeoutMs: CLI_TIMEOUT }),
    ]).finally(() => clearInterval(sender));
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /archive/);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /cursor moved/);
    assert.equal(reload.code, 0, reload.stderr);
    assert.equal(tail.code, 0, tail.stderr);
    assert.match(tail.stdout, /tail_check/);
  });

  it('refuses a cross-site text/plain POST to replay, and takes it from its own page', async () => {
    const replay = (origin: string) =>
      call(`${local}/api/v1/sinks/archive/replay`, {
        method: 'POST',
        headers: { origin, 'content-type': 'text/plain' },
        body: '{"from":"start"}',
      });
    const crossSite = await replay('https://evil.example');
    assert.equal(crossSite.status, 403);
    assert.equal(crossSite.code, 'BEACON_E_ORIGIN_NOT_ALLOWED');
    const own = await replay(local);
    assert.equal(own.status, 200, own.body);
    assert.equal(typeof (JSON.parse(own.body) as { pending: number }).pending, 'number');
  });

  it('refuses a WebSocket from a foreign Origin before the handshake, and takes its own page', async () => {
    const foreign = await watch(`${local.replace('http', 'ws')}/live`, { origin: 'https://evil.example' });
    assert.equal(foreign.refused?.status, 403);
    assert.equal(foreign.refused?.code, 'BEACON_E_ORIGIN_NOT_ALLOWED');
    const own = await watch(`${local.replace('http', 'ws')}/live`, { origin: local });
    assert.match(own.message ?? '', /"kind":"ready"/);
  });

  it('refuses a Host it does not know (DNS rebinding), on the API and /live, even from loopback', async () => {
    const res = await call(`${local}/api/v1/config`, { headers: { host: `rebind.evil.example:${beacon.port}` } });
    assert.equal(res.status, 403);
    assert.equal(res.code, 'BEACON_E_HOST_NOT_ALLOWED');
    const replay = await call(`${local}/api/v1/sinks/archive/replay`, {
      method: 'POST',
      headers: {
        host: `rebind.evil.example:${beacon.port}`,
        origin: `http://rebind.evil.example:${beacon.port}`,
        'content-type': 'text/plain',
      },
      body: '{"from":"start"}',
    });
    assert.equal(replay.code, 'BEACON_E_HOST_NOT_ALLOWED');
    const live = await watch(`${local.replace('http', 'ws')}/live`, {
      headers: { host: `rebind.evil.example:${beacon.port}` },
    });
    assert.equal(live.refused?.code, 'BEACON_E_HOST_NOT_ALLOWED');
    assert.equal(
      (await call(`${local}/t/pageview`, { headers: { host: 'rebind.evil.example' } })).status,
      204,
      'the collector answers any Host',
    );
  });
});

describe('the admin surface of a Beacon with tokens', () => {
  let beacon: BeaconProcess;
  let lan: string;

  before(async () => {
    beacon = await startBeacon({
      server: { host: '0.0.0.0' },
      logging: { level: 'info' },
      api: { tokens: [{ name: 'ops', token: ADMIN, scopes: ['admin'] }], allowedHosts: ['beacon.lan'] },
      sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson' }],
    });
    lan = `http://${LAN ?? '127.0.0.1'}:${beacon.port}`;
  });
  after(async () => {
    await beacon?.stop();
    await beacon?.cleanup();
  });

  it('says at start that the admin surface needs a token', async () => {
    await beacon.waitForOutput(/admin and query API, \/live: from any address with a token from api\.tokens/);
    assert.ok(!beacon.output().includes(ADMIN));
  });

  it(
    'answers another address that brings a token, and asks one without it for the token',
    { skip: noLan },
    async () => {
      assert.equal((await call(`${lan}/api/v1/config`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
      assert.equal((await call(`${lan}/api/v1/config`)).code, 'BEACON_E_UNAUTHORIZED');
      const live = await watch(`${lan.replace('http', 'ws')}/live`, { headers: { authorization: `Bearer ${ADMIN}` } });
      assert.match(live.message ?? '', /"kind":"ready"/);
    },
  );

  it('answers a LAN name listed in api.allowedHosts and refuses one that is not', async () => {
    const withHost = (host: string) =>
      call(`${beacon.url}/api/v1/status`, {
        headers: { host: `${host}:${beacon.port}`, authorization: `Bearer ${ADMIN}` },
      });
    assert.equal((await withHost('beacon.lan')).status, 200);
    assert.equal((await withHost('other.lan')).code, 'BEACON_E_HOST_NOT_ALLOWED');
  });

  it('still refuses a cross-site POST that carries a valid token', async () => {
    const res = await call(`${beacon.url}/api/v1/reload`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(res.code, 'BEACON_E_ORIGIN_NOT_ALLOWED');
  });
});
