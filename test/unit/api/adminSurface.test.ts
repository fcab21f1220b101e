import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createAdminSurface, hostName, isLoopbackAddress } from '../../../src/api/adminSurface.js';
import { jsonResponse, type AdminRequest } from '../../../src/api/adminRequest.js';
import { createApi } from '../../../src/api/createApi.js';
import type { ApiRoute } from '../../../src/api/route.js';
import { validateConfig } from '../../../src/config/load.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { ADMIN_TOKEN, apiConfig, bearer, captureLogger, READ_TOKEN, TOKENS } from './fixtures.js';

function route(method: 'GET' | 'POST', path: string, cls: ApiRoute['class'], scope: ApiRoute['scope']): ApiRoute {
  return { method, path, class: cls, scope, summary: path, handle: async () => jsonResponse(200, { ok: true }) };
}

/** One route of each kind the surface has, and one that is not part of it. */
const ROUTES = [
  route('GET', '/api/v1/status', 'admin', 'read'),
  route('GET', '/api/v1/config', 'admin', 'admin'),
  route('POST', '/api/v1/sinks/{name}/replay', 'admin', 'admin'),
  route('POST', '/api/v1/reload', 'admin', 'admin'),
  route('GET', '/api/v1/events/recent', 'realtime', 'read'),
  route('GET', '/metrics', 'ops', 'none'),
];

function apiWith(
  options: { api?: Record<string, unknown>; host?: string; corsOrigins?: string[]; trustProxy?: boolean } = {},
) {
  const log = captureLogger();
  const api = createApi({
    api: apiConfig(options.api ?? {}),
    host: options.host ?? '0.0.0.0',
    corsOrigins: options.corsOrigins ?? ['*'],
    trustProxy: options.trustProxy ?? false,
    routes: ROUTES,
    logger: log.logger,
    registry: new Registry(),
  });
  const call = async (req: Partial<AdminRequest> & { path: string }) => {
    const res = await api.handler({
      method: 'GET',
      query: {},
      headers: { host: '127.0.0.1:8290' },
      remoteAddress: '127.0.0.1',
      ...req,
    });
    assert.ok(res, `no route answered ${req.path}`);
    return {
      status: res.status,
      code: res.status === 200 ? undefined : (JSON.parse(res.body) as { code: string; message: string }).code,
      body: res.body,
    };
  };
  return { call, log };
}

const SURFACE = [
  { method: 'GET', path: '/api/v1/status' },
  { method: 'GET', path: '/api/v1/config' },
  { method: 'POST', path: '/api/v1/sinks/archive/replay', body: '{"from":"start"}' },
  { method: 'POST', path: '/api/v1/reload' },
  { method: 'GET', path: '/api/v1/events/recent' },
] as const;

describe('the admin surface without tokens: loopback only', () => {
  it('refuses every admin and query route to a client on another machine, saying why and what to do', async () => {
    const { call } = apiWith();
    for (const req of SURFACE) {
      for (const remoteAddress of ['192.0.2.7', '::ffff:10.1.2.3', 'fd00::2']) {
        const res = await call({ ...req, remoteAddress });
        assert.equal(res.status, 403, `${req.method} ${req.path} from ${remoteAddress}`);
        assert.equal(res.code, 'BEACON_E_ADMIN_LOOPBACK_ONLY');
        assert.match(res.body, /api\.tokens/);
        assert.match(res.body, /docs\/security\.md/);
      }
    }
  });

  it('answers the same requests from loopback, IPv4 and IPv6', async () => {
    const { call } = apiWith();
    for (const req of SURFACE) {
      for (const remoteAddress of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1']) {
        assert.equal(
          (await call({ ...req, remoteAddress })).status,
          200,
          `${req.method} ${req.path} from ${remoteAddress}`,
        );
      }
    }
  });

  it('keeps the operations endpoints public', async () => {
    const { call } = apiWith();
    assert.equal(
      (await call({ path: '/metrics', remoteAddress: '192.0.2.7', headers: { host: 'anything.example' } })).status,
      200,
    );
  });

  it('never takes the client from X-Forwarded-For unless server.trustProxy is on', async () => {
    const direct = apiWith();
    assert.equal(
      (
        await direct.call({
          path: '/api/v1/status',
          remoteAddress: '192.0.2.7',
          headers: { host: '127.0.0.1', 'x-forwarded-for': '127.0.0.1' },
        })
      ).code,
      'BEACON_E_ADMIN_LOOPBACK_ONLY',
      'a client cannot claim to be local',
    );
    assert.equal(
      (
        await direct.call({
          path: '/api/v1/status',
          remoteAddress: '127.0.0.1',
          headers: { host: '127.0.0.1', 'x-forwarded-for': '192.0.2.7' },
        })
      ).status,
      200,
    );
  });

  it('behind a trusted proxy on the same machine, takes the client the proxy added last', async () => {
    const proxied = apiWith({ trustProxy: true });
    const via = (xff: string) =>
      proxied.call({
        path: '/api/v1/status',
        remoteAddress: '127.0.0.1',
        headers: { host: '127.0.0.1', 'x-forwarded-for': xff },
      });
    assert.equal((await via('203.0.113.9')).code, 'BEACON_E_ADMIN_LOOPBACK_ONLY');
    assert.equal(
      (await via('127.0.0.1, 203.0.113.9')).code,
      'BEACON_E_ADMIN_LOOPBACK_ONLY',
      'only the hop the proxy added counts',
    );
    assert.equal((await via('203.0.113.9, 127.0.0.1')).status, 200);
  });

  it('says at start that the surface answers loopback only, and where to read more', () => {
    const { log } = apiWith();
    const line = log.lines().find((l) => l.event === 'admin_surface');
    assert.match(String(line?.msg), /loopback only \(no api\.tokens configured/);
    assert.match(String(line?.msg), /docs\/security\.md/);
  });
});

describe('the admin surface with tokens', () => {
  it('answers any address that brings a token, as before', async () => {
    const { call, log } = apiWith({ api: { tokens: TOKENS } });
    assert.equal(
      (
        await call({
          path: '/api/v1/status',
          remoteAddress: '192.0.2.7',
          headers: { host: '192.0.2.2:8290', ...bearer(READ_TOKEN) },
        })
      ).status,
      200,
    );
    assert.equal(
      (await call({ path: '/api/v1/status', remoteAddress: '192.0.2.7', headers: { host: '192.0.2.2:8290' } })).code,
      'BEACON_E_UNAUTHORIZED',
    );
    assert.match(String(log.lines().find((l) => l.event === 'admin_surface')?.msg), /with a token from api\.tokens/);
  });
});

describe('the Host allow-list', () => {
  it('refuses a name it does not know, from loopback too (DNS rebinding)', async () => {
    const { call } = apiWith();
    for (const host of ['evil.example', 'evil.example:8290', 'localhost.evil.example', '127.0.0.1.nip.example']) {
      const res = await call({ path: '/api/v1/status', headers: { host } });
      assert.equal(res.code, 'BEACON_E_HOST_NOT_ALLOWED', host);
      assert.match(res.body, /api\.allowedHosts/);
    }
    const replay = await call({
      method: 'POST',
      path: '/api/v1/sinks/a/replay',
      headers: { host: 'evil.example:8290', origin: 'http://evil.example:8290' },
    });
    assert.equal(
      replay.code,
      'BEACON_E_HOST_NOT_ALLOWED',
      'a rebinding page is same-origin with itself, so Host is what stops it',
    );
  });

  it('answers loopback names and any IP address literal, whatever the port', async () => {
    const { call } = apiWith();
    for (const host of [
      'localhost',
      'LOCALHOST:8290',
      'app.localhost:1',
      '127.0.0.1:8290',
      '[::1]:8290',
      '192.0.2.2',
      '[fd00::2]:80',
    ]) {
      assert.equal((await call({ path: '/api/v1/status', headers: { host } })).status, 200, host);
    }
  });

  it('answers the bind address and the names in api.allowedHosts', async () => {
    const { call } = apiWith({
      host: 'beacon.internal',
      api: { tokens: TOKENS, allowedHosts: ['beacon.lan', '.corp.example'] },
    });
    const status = (host: string) =>
      call({ path: '/api/v1/status', remoteAddress: '192.0.2.7', headers: { host, ...bearer(READ_TOKEN) } });
    for (const host of ['beacon.internal:8290', 'Beacon.LAN:8290', 'beacon.lan.', 'corp.example', 'a.b.corp.example'])
      assert.equal((await status(host)).status, 200, host);
    for (const host of ['notcorp.example', 'beacon.lan.evil.example', 'corp.example.evil'])
      assert.equal((await status(host)).code, 'BEACON_E_HOST_NOT_ALLOWED', host);
  });

  it('takes any Host with api.allowedHosts [*]', async () => {
    const { call } = apiWith({ api: { allowedHosts: ['*'] } });
    assert.equal((await call({ path: '/api/v1/status', headers: { host: 'whatever.example' } })).status, 200);
  });

  it('checks api.allowedHosts entries when the config loads', () => {
    try {
      validateConfig({ api: { allowedHosts: ['http://beacon.lan'] } });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(isBeaconError(err));
      assert.match(err.message, /api\.allowedHosts\[0\]/);
    }
  });

  it('reads the host part of Host headers', () => {
    assert.equal(hostName('Example.COM.:8080'), 'example.com');
    assert.equal(hostName('[::1]:80'), '::1');
    assert.equal(hostName('[::1'), undefined);
    assert.equal(hostName('a:b:c'), undefined);
    assert.equal(hostName('host:x'), undefined);
  });
});

describe('the Origin check on state-changing requests', () => {
  it('refuses a cross-site text/plain POST to replay and reload, with or without tokens', async () => {
    for (const api of [{}, { tokens: TOKENS }]) {
      const { call } = apiWith({ api });
      for (const path of ['/api/v1/sinks/archive/replay', '/api/v1/reload']) {
        for (const origin of ['https://evil.example', 'http://127.0.0.1:9999', 'null']) {
          const res = await call({
            method: 'POST',
            path,
            body: '{"from":"start"}',
            headers: { host: '127.0.0.1:8290', origin, 'content-type': 'text/plain', ...bearer(ADMIN_TOKEN) },
          });
          assert.equal(res.code, 'BEACON_E_ORIGIN_NOT_ALLOWED', `${path} from ${origin}`);
        }
      }
    }
  });

  it("accepts them from Beacon's own page (same host and port) and from origins listed in server.cors", async () => {
    const { call } = apiWith({ corsOrigins: ['https://admin.example'] });
    const post = (origin: string, host = '127.0.0.1:8290') =>
      call({ method: 'POST', path: '/api/v1/reload', headers: { host, origin } });
    assert.equal((await post('http://127.0.0.1:8290')).status, 200);
    assert.equal((await post('http://localhost', 'localhost:80')).status, 200, 'a default port is the same origin');
    assert.equal((await post('https://admin.example')).status, 200);
    assert.equal(
      (await call({ method: 'POST', path: '/api/v1/reload' })).status,
      200,
      'no Origin: not a browser page (curl, beacon reload)',
    );
  });

  it('behind a trusted proxy, also takes the X-Forwarded-Host it sets as its own origin', async () => {
    const headers = {
      host: '127.0.0.1:8290',
      'x-forwarded-host': 'beacon.example.com',
      'x-forwarded-for': '127.0.0.1',
      origin: 'https://beacon.example.com',
    };
    assert.equal(
      (await apiWith({ trustProxy: true }).call({ method: 'POST', path: '/api/v1/reload', headers })).status,
      200,
    );
    assert.equal(
      (await apiWith().call({ method: 'POST', path: '/api/v1/reload', headers })).code,
      'BEACON_E_ORIGIN_NOT_ALLOWED',
      'a header from an untrusted client means nothing',
    );
  });

  it('does not count server.cors "*" as a listed origin', async () => {
    const { call } = apiWith({ corsOrigins: ['*'] });
    assert.equal(
      (
        await call({
          method: 'POST',
          path: '/api/v1/reload',
          headers: { host: '127.0.0.1:8290', origin: 'https://evil.example' },
        })
      ).code,
      'BEACON_E_ORIGIN_NOT_ALLOWED',
    );
  });

  it('leaves reads alone: a browser shows a foreign page no answer without CORS headers', async () => {
    const { call } = apiWith();
    assert.equal(
      (await call({ path: '/api/v1/status', headers: { host: '127.0.0.1:8290', origin: 'https://evil.example' } }))
        .status,
      200,
    );
  });
});

describe('the /live upgrade', () => {
  const surface = createAdminSurface({
    tokensConfigured: false,
    allowedHosts: [],
    bindHost: '0.0.0.0',
    corsOrigins: ['*'],
    trustProxy: false,
  });
  const upgrade = (headers: Record<string, string>, remoteAddress = '127.0.0.1') => ({
    method: 'GET',
    path: '/live',
    headers,
    remoteAddress,
  });

  it('refuses a foreign Origin and an unknown Host before the handshake', () => {
    assert.equal(
      surface.checkUpgrade(upgrade({ host: '127.0.0.1:8290', origin: 'https://evil.example' }))?.code,
      'BEACON_E_ORIGIN_NOT_ALLOWED',
    );
    assert.equal(surface.checkUpgrade(upgrade({ host: 'evil.example:8290' }))?.code, 'BEACON_E_HOST_NOT_ALLOWED');
    assert.equal(surface.checkUpgrade(upgrade({ host: '127.0.0.1:8290', origin: 'http://127.0.0.1:8290' })), undefined);
  });

  it('refuses a client on another machine while no tokens are configured', () => {
    assert.equal(
      surface.checkClient(upgrade({ host: '192.0.2.2:8290' }, '192.0.2.7'))?.code,
      'BEACON_E_ADMIN_LOOPBACK_ONLY',
    );
    assert.equal(surface.checkClient(upgrade({ host: '127.0.0.1:8290' })), undefined);
  });
});

describe('loopback addresses', () => {
  it('are 127.0.0.0/8 and ::1, also IPv4-mapped', () => {
    for (const ip of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
      assert.ok(isLoopbackAddress(ip), ip);
    for (const ip of ['10.0.0.1', '::', '::2', '::ffff:10.0.0.1', '128.0.0.1', 'localhost', ''])
      assert.ok(!isLoopbackAddress(ip), ip);
  });
});
