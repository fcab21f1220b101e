import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type * as NodeCrypto from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { jsonResponse } from '../../../src/api/adminRequest.js';
import { adminRoutes } from '../../../src/api/adminRoutes.js';
import { apiSchema } from '../../../src/api/apiConfig.js';
import { bearerToken, createApiAuth } from '../../../src/api/auth.js';
import { DeadLetterView } from '../../../src/api/deadLetterView.js';
import type { ApiRoute } from '../../../src/api/route.js';
import { validateConfig } from '../../../src/config/load.js';
import { ADMIN_TOKEN, apiConfig, apiOver, bearer, READ_TOKEN, TOKENS } from './fixtures.js';

const readRoute: ApiRoute = {
  method: 'GET',
  path: '/q',
  class: 'realtime',
  scope: 'read',
  summary: 'read',
  handle: async () => jsonResponse(200, { ok: true }),
};
const adminRoute: ApiRoute = {
  method: 'POST',
  path: '/act',
  class: 'admin',
  scope: 'admin',
  summary: 'act',
  handle: async () => jsonResponse(200, { done: true }),
};
const openRoute: ApiRoute = {
  method: 'GET',
  path: '/open',
  class: 'ops',
  scope: 'none',
  summary: 'open',
  handle: async () => jsonResponse(200, {}),
};

describe('API token auth', () => {
  it('leaves every endpoint open when no tokens are configured', async () => {
    const { call } = apiOver([readRoute, adminRoute]);
    assert.equal((await call({ path: '/q' }))?.status, 200);
    assert.equal((await call({ path: '/act', method: 'POST' }))?.status, 200);
  });

  it('answers 401 BEACON_E_UNAUTHORIZED with WWW-Authenticate: Bearer when the token is missing', async () => {
    const { call } = apiOver([readRoute], { tokens: TOKENS });
    const res = await call({ path: '/q' });
    assert.equal(res?.status, 401);
    assert.equal(JSON.parse(res!.body).code, 'BEACON_E_UNAUTHORIZED');
    assert.match(res!.headers['www-authenticate']!, /^Bearer realm="beacon"$/);
    assert.equal(res?.headers['cache-control'], 'no-store');
  });

  it('answers 401 with error="invalid_token" for a token that matches none, and for another scheme', async () => {
    const { call } = apiOver([readRoute], { tokens: TOKENS });
    const wrong = await call({ path: '/q', headers: bearer('not-a-configured-token-at-all') });
    assert.equal(wrong?.status, 401);
    assert.match(wrong!.headers['www-authenticate']!, /error="invalid_token"/);
    const basic = await call({
      path: '/q',
      headers: { authorization: `Basic ${Buffer.from(`x:${READ_TOKEN}`).toString('base64')}` },
    });
    assert.equal(basic?.status, 401);
  });

  it('answers 403 BEACON_E_FORBIDDEN naming the scope when a read token calls an admin endpoint', async () => {
    const { call } = apiOver([adminRoute], { tokens: TOKENS });
    const res = await call({ path: '/act', method: 'POST', headers: bearer(READ_TOKEN) });
    assert.equal(res?.status, 403);
    const body = JSON.parse(res!.body) as { code: string; message: string };
    assert.equal(body.code, 'BEACON_E_FORBIDDEN');
    assert.match(body.message, /needs admin/);
    assert.match(res!.headers['www-authenticate']!, /error="insufficient_scope", scope="admin"/);
  });

  it('lets an admin token call read endpoints (admin implies read)', async () => {
    const { call } = apiOver([readRoute, adminRoute], { tokens: TOKENS });
    assert.equal((await call({ path: '/q', headers: bearer(ADMIN_TOKEN) }))?.status, 200);
    assert.equal((await call({ path: '/act', method: 'POST', headers: bearer(ADMIN_TOKEN) }))?.status, 200);
    assert.equal((await call({ path: '/q', headers: bearer(READ_TOKEN) }))?.status, 200);
  });

  it('keeps scope-none endpoints open, and read endpoints open with publicRead while admin stays locked', async () => {
    const { call } = apiOver([readRoute, adminRoute, openRoute], { tokens: TOKENS, publicRead: true });
    assert.equal((await call({ path: '/open' }))?.status, 200);
    assert.equal((await call({ path: '/q' }))?.status, 200);
    assert.equal((await call({ path: '/act', method: 'POST' }))?.status, 401);
  });

  it('accepts a token stored as its SHA-256 and one read from an environment variable', () => {
    const hashed = createApiAuth(
      apiConfig({
        tokens: [{ name: 'h', tokenSha256: createHash('sha256').update(READ_TOKEN).digest('hex'), scopes: ['read'] }],
      }),
    );
    assert.equal(hashed.authorize('read', READ_TOKEN).ok, true);
    assert.equal(hashed.authorize('read', ADMIN_TOKEN).ok, false);
    const fromEnv = createApiAuth(
      apiConfig({ tokens: [{ name: 'e', tokenEnv: 'BEACON_ADMIN_TOKEN', scopes: ['admin'] }] }),
      { BEACON_ADMIN_TOKEN: ADMIN_TOKEN },
    );
    const outcome = fromEnv.authorize('admin', ADMIN_TOKEN);
    assert.ok(outcome.ok && outcome.principal?.name === 'e');
  });

  it('refuses to start when a tokenEnv variable is unset or too short, naming the field', () => {
    const config = apiConfig({ tokens: [{ name: 'e', tokenEnv: 'BEACON_ADMIN_TOKEN' }] });
    assert.throws(
      () => createApiAuth(config, {}),
      (err: Error & { code?: string }) =>
        err.code === 'BEACON_E_CONFIG_FIELD' &&
        /api\.tokens\[0\]\.tokenEnv.*BEACON_ADMIN_TOKEN.*not set/.test(err.message),
    );
    assert.throws(() => createApiAuth(config, { BEACON_ADMIN_TOKEN: 'short' }), /shorter than 16/);
  });

  it('refuses configs with no secret, two secrets, a short token, a duplicate name or an unknown scope', () => {
    const bad = [
      { tokens: [{ name: 'a' }] },
      { tokens: [{ name: 'a', token: READ_TOKEN, tokenEnv: 'X' }] },
      { tokens: [{ name: 'a', token: 'short' }] },
      {
        tokens: [
          { name: 'a', token: READ_TOKEN },
          { name: 'a', token: ADMIN_TOKEN },
        ],
      },
      { tokens: [{ name: 'a', token: READ_TOKEN, scopes: ['write'] }] },
      { tokens: [{ name: 'a', tokenSha256: 'abc' }] },
    ];
    for (const raw of bad) assert.equal(apiSchema.safeParse(raw).success, false, JSON.stringify(raw));
    assert.throws(() => validateConfig({ api: bad[1] }), /exactly one of token, tokenEnv or tokenSha256/);
  });

  it('compares the presented token with every configured one through timingSafeEqual, whichever matches', () => {
    const crypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
    const original = crypto.timingSafeEqual;
    let comparisons = 0;
    crypto.timingSafeEqual = (a, b) => {
      comparisons++;
      return original(a, b);
    };
    syncBuiltinESMExports();
    try {
      const auth = createApiAuth(
        apiConfig({ tokens: [...TOKENS, { name: 'third', token: 'third-token-0123456789', scopes: ['read'] }] }),
      );
      for (const token of [READ_TOKEN, 'third-token-0123456789', 'no-such-token-0123456789']) {
        comparisons = 0;
        auth.authorize('read', token);
        assert.equal(comparisons, 3, `token ${token.slice(0, 5)}... was compared ${comparisons} times`);
      }
    } finally {
      crypto.timingSafeEqual = original;
      syncBuiltinESMExports();
    }
  });

  it('never writes a token into the log, the audit line or /api/v1/config', async () => {
    const config = validateConfig({ api: { tokens: [...TOKENS, { name: 'hashed', tokenSha256: 'a'.repeat(64) }] } });
    const routes = adminRoutes({
      config,
      version: 'test',
      startedAt: Date.now(),
      sinkStatus: () => [],
      logUsage: () => ({ bytes: 0, maxBytes: 1, segments: 0 }) as never,
      replay: async () => ({}),
      deadLetters: new DeadLetterView('/nonexistent'),
    });
    const { call, log } = apiOver([...routes, adminRoute], { tokens: TOKENS });
    const shown = await call({ path: '/api/v1/config', headers: bearer(ADMIN_TOKEN) });
    assert.equal(shown?.status, 200);
    const cfg = JSON.parse(shown!.body) as { api: { tokens: Record<string, unknown>[] } };
    assert.deepEqual(
      cfg.api.tokens.map((t) => t.name),
      ['dashboard', 'ops', 'hashed'],
    );
    await call({ path: '/act', method: 'POST', headers: bearer(ADMIN_TOKEN) });
    await call({ path: '/act', method: 'POST', headers: bearer(READ_TOKEN) });
    await call({ path: '/act', method: 'POST', headers: bearer('a-wrong-token-0123456789') });
    for (const secret of [READ_TOKEN, ADMIN_TOKEN, 'a-wrong-token-0123456789', 'a'.repeat(64)]) {
      assert.ok(!shown!.body.includes(secret), 'config shows a token');
      assert.ok(!log.text().includes(secret), 'the log holds a token');
    }
    assert.ok(
      log.lines().some((l) => l.audit === true),
      'no audit lines were written',
    );
  });

  it('writes an audit line per admin action: who, what, status and from where', async () => {
    const { call, log } = apiOver([adminRoute, readRoute], { tokens: TOKENS });
    await call({
      path: '/act',
      method: 'POST',
      headers: { ...bearer(ADMIN_TOKEN), 'x-forwarded-for': '203.0.113.9' },
      remoteAddress: '10.0.0.5',
    });
    await call({ path: '/act', method: 'POST', headers: bearer(READ_TOKEN), remoteAddress: '10.0.0.6' });
    await call({ path: '/q', headers: bearer(READ_TOKEN) });
    const audit = log.lines().filter((l) => l.audit === true);
    assert.equal(audit.length, 2, 'reads are not audited');
    assert.deepEqual(
      audit.map(({ who, action, status, ip, forwardedFor, code }) => ({ who, action, status, ip, forwardedFor, code })),
      [
        { who: 'ops', action: 'POST /act', status: 200, ip: '10.0.0.5', forwardedFor: '203.0.113.9', code: undefined },
        {
          who: 'dashboard',
          action: 'POST /act',
          status: 403,
          ip: '10.0.0.6',
          forwardedFor: undefined,
          code: 'BEACON_E_FORBIDDEN',
        },
      ],
    );
    assert.ok(
      audit.every((l) => typeof l.time === 'string'),
      'audit lines carry their time',
    );
  });

  it('reads only the Bearer scheme from Authorization', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer   abc  '), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken('Bearer a b'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});
