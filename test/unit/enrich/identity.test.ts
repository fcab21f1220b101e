import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import type { Logger } from 'pino';
import { configSchema } from '../../../src/config/schema.js';
import { inCodecOrder } from '../../../src/event/codecs/json.js';
import { cookieLineTemplate, cookieSuffix, setCookieLine } from '../../../src/enrich/identity/cookies.js';
import { createIdentityIssuer } from '../../../src/enrich/identity/identity.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { metricValue, postJson, startCollector, type Answer, type Collector } from '../http/harness.js';

/** Identities as a browser meets them: a real collector, real requests, the Set-Cookie lines it answers. */

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let saltRoot: string;
before(async () => {
  saltRoot = await mkdtemp(join(tmpdir(), 'beacon-identity-'));
});
after(() => rm(saltRoot, { recursive: true, force: true }));

/** A collector with an identity issuer built from `config`; `issued` is the registry the issuer counts into. */
async function collectorWith(
  config: Record<string, unknown>,
  options: { now?: () => number; saltDir?: string } = {},
): Promise<Collector & { issued: Metrics }> {
  const parsed = configSchema.parse(config);
  const metrics = createMetrics();
  const identity = createIdentityIssuer(parsed.enrich.identity, {
    server: parsed.server,
    saltDir: options.saltDir ?? join(saltRoot, String(Math.random()).slice(2)),
    metrics,
    ...(options.now ? { now: options.now } : {}),
  });
  const collector = await startCollector({
    server: (config.server as Record<string, unknown>) ?? {},
    ...(identity ? { browser: { identity } } : {}),
  });
  return Object.assign(collector, { issued: metrics });
}

function cookies(answer: Answer): Map<string, string> {
  const lines = answer.headers['set-cookie'] ?? [];
  return new Map(lines.map((line) => [line.slice(0, line.indexOf('=')), line]));
}

function cookieValue(line: string | undefined): string | undefined {
  return line?.slice(line.indexOf('=') + 1, line.indexOf(';'));
}

describe('identity: cookie mode (the default)', () => {
  it('issues a party and a session cookie on the first pixel and writes both ids into the event', async () => {
    const collector = await collectorWith({});
    try {
      const answer = await collector.send({ path: '/t/pageview?p=1', headers: { 'User-Agent': CHROME } });
      assert.equal(answer.status, 204);
      const set = cookies(answer);
      assert.match(
        set.get('beacon_pid')!,
        /^beacon_pid=[0-9a-f-]{36}; Max-Age=63072000; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      assert.match(set.get('beacon_sid')!, /^beacon_sid=[0-9a-f-]{36}; Max-Age=1800; Path=\/; HttpOnly; SameSite=Lax$/);
      const event = collector.recorder.events[0]!;
      assert.match(event.partyId!, UUID);
      assert.equal(event.partyId, cookieValue(set.get('beacon_pid')));
      assert.equal(event.sessionId, cookieValue(set.get('beacon_sid')));
      assert.notEqual(event.partyId, event.sessionId);
      assert.ok(inCodecOrder(event), 'the ids sit in the json codec order, so the log keeps its fast path');
      assert.equal(await metricValue(collector.issued.identityRequests, { result: 'new' }), 1);
    } finally {
      await collector.close();
    }
  });

  it('reads the cookies back on later requests of every kind and renews them', async () => {
    const collector = await collectorWith({});
    try {
      const first = cookies(await collector.send({ path: '/t/pageview' }));
      const party = cookieValue(first.get('beacon_pid'))!;
      const session = cookieValue(first.get('beacon_sid'))!;
      const cookie = `other=1; beacon_pid=${party}; beacon_sid=${session}`;
      const pixel = await collector.send({ path: '/t/view.gif', headers: { Cookie: cookie } });
      const single = await postJson(collector, '/t/click', { b: 1 }, { Cookie: cookie });
      const batch = await postJson(
        collector,
        '/batch',
        [{ type: 'a' }, { type: 'b', partyId: 'sent-by-client', pageViewId: 'pv-1' }],
        { Cookie: cookie },
      );
      assert.equal(batch.status, 200);
      for (const answer of [pixel, single, batch]) {
        const renewed = cookies(answer);
        assert.equal(cookieValue(renewed.get('beacon_pid')), party);
        assert.equal(cookieValue(renewed.get('beacon_sid')), session);
        assert.match(renewed.get('beacon_sid')!, /Max-Age=1800;/, 'the session cookie lives 30 min from this request');
      }
      const [, view, click, a, b] = collector.recorder.events;
      for (const event of [view!, click!, a!]) {
        assert.equal(event.partyId, party);
        assert.equal(event.sessionId, session);
      }
      assert.equal(b!.partyId, 'sent-by-client', 'an id the client sent wins');
      assert.equal(b!.sessionId, session, 'what the client did not send is filled in');
      assert.equal(b!.pageViewId, 'pv-1');
      assert.ok(collector.recorder.events.every((e) => inCodecOrder(e)));
      assert.equal(await metricValue(collector.issued.identityRequests, { result: 'returning' }), 3);
    } finally {
      await collector.close();
    }
  });

  it('keeps the party but starts a new session when the session cookie has expired', async () => {
    const collector = await collectorWith({});
    try {
      const party = '0b1e2c3d-4f50-4a6b-9c7d-8e9fa0b1c2d3';
      const answer = await collector.send({ path: '/t/pageview', headers: { Cookie: `beacon_pid=${party}` } });
      const set = cookies(answer);
      assert.equal(cookieValue(set.get('beacon_pid')), party);
      const session = cookieValue(set.get('beacon_sid'))!;
      assert.match(session, UUID);
      assert.equal(collector.recorder.events[0]!.sessionId, session);
    } finally {
      await collector.close();
    }
  });

  it('replaces a cookie value that is not an id it could have made', async () => {
    const collector = await collectorWith({});
    try {
      await collector.send({ path: '/t/pageview', headers: { Cookie: 'beacon_pid=<script>; beacon_sid=x' } });
      const event = collector.recorder.events[0]!;
      assert.match(event.partyId!, UUID);
      assert.match(event.sessionId!, UUID);
    } finally {
      await collector.close();
    }
  });

  it('honours DNT and Sec-GPC: no ids, no new cookies, and the old ones deleted; the event is still collected', async () => {
    const collector = await collectorWith({});
    try {
      const dnt = await collector.send({ path: '/t/pageview', headers: { DNT: '1' } });
      assert.equal(dnt.status, 204);
      assert.equal(dnt.headers['set-cookie'], undefined);
      const gpc = await postJson(collector, '/batch', [{ type: 'a' }], {
        'Sec-GPC': '1',
        Cookie: 'beacon_pid=0b1e2c3d-4f50-4a6b-9c7d-8e9fa0b1c2d3',
      });
      const deleted = cookies(gpc);
      assert.match(deleted.get('beacon_pid')!, /^beacon_pid=; Max-Age=0;/);
      assert.match(deleted.get('beacon_sid')!, /^beacon_sid=; Max-Age=0;/);
      assert.equal(collector.recorder.events.length, 2);
      for (const event of collector.recorder.events) {
        assert.equal(event.partyId, undefined);
        assert.equal(event.sessionId, undefined);
      }
      assert.equal(await metricValue(collector.issued.identityRequests, { result: 'withheld' }), 2);
    } finally {
      await collector.close();
    }
  });

  it('ignores privacy signals when honorPrivacySignals is false', async () => {
    const collector = await collectorWith({ enrich: { identity: { honorPrivacySignals: false } } });
    try {
      await collector.send({ path: '/t/pageview', headers: { DNT: '1', 'Sec-GPC': '1' } });
      assert.match(collector.recorder.events[0]!.partyId!, UUID);
    } finally {
      await collector.close();
    }
  });

  it('issues cookies cross-origin only to origins allowed with credentials, whose answers let the browser keep them', async () => {
    const collector = await collectorWith({
      server: { cors: { origins: ['https://shop.example'], credentials: true } },
    });
    try {
      const allowed = await postJson(collector, '/batch', [{ type: 'a' }], { Origin: 'https://shop.example' });
      assert.equal(allowed.headers['access-control-allow-origin'], 'https://shop.example');
      assert.equal(allowed.headers['access-control-allow-credentials'], 'true');
      assert.equal(cookies(allowed).size, 2);
      const stranger = await postJson(collector, '/batch', [{ type: 'b' }], { Origin: 'https://other.example' });
      assert.equal(
        stranger.headers['set-cookie'],
        undefined,
        'a browser would drop them and mint a new party per request',
      );
      const sameOrigin = await postJson(collector, '/batch', [{ type: 'c' }], {
        Origin: `http://127.0.0.1:${collector.port}`,
      });
      assert.equal(cookies(sameOrigin).size, 2);
      const [a, b, c] = collector.recorder.events;
      assert.match(a!.partyId!, UUID);
      assert.equal(b!.partyId, undefined);
      assert.match(c!.partyId!, UUID);
      assert.equal(await metricValue(collector.issued.identityRequests, { result: 'uncredentialed' }), 1);
    } finally {
      await collector.close();
    }
  });

  it('still reads cookies a browser sends from an uncredentialed origin (sendBeacon always sends them)', async () => {
    const collector = await collectorWith({});
    try {
      const party = '0b1e2c3d-4f50-4a6b-9c7d-8e9fa0b1c2d3';
      await postJson(collector, '/batch', [{ type: 'a' }], {
        Origin: 'https://site.example',
        Cookie: `beacon_pid=${party}`,
      });
      assert.equal(collector.recorder.events[0]!.partyId, party);
    } finally {
      await collector.close();
    }
  });

  it('sets Secure behind a trusted HTTPS proxy, and the configured names, Domain and SameSite', async () => {
    const collector = await collectorWith({
      server: { trustProxy: true },
      enrich: {
        identity: {
          partyCookie: 'vid',
          sessionCookie: 'sid',
          domain: 'example.com',
          sameSite: 'strict',
          sessionIdle: '10m',
          partyMaxAge: '400d',
        },
      },
    });
    try {
      const https = cookies(await collector.send({ path: '/t/a', headers: { 'X-Forwarded-Proto': 'https' } }));
      assert.match(
        https.get('vid')!,
        /^vid=[0-9a-f-]{36}; Max-Age=34560000; Path=\/; HttpOnly; SameSite=Strict; Domain=example.com; Secure$/,
      );
      assert.match(https.get('sid')!, /^sid=[0-9a-f-]{36}; Max-Age=600; /);
      const plain = cookies(await collector.send({ path: '/t/a' }));
      assert.doesNotMatch(plain.get('vid')!, /Secure/);
    } finally {
      await collector.close();
    }
  });

  it('refuses sameSite none without secure at config time', () => {
    assert.throws(
      () => configSchema.parse({ enrich: { identity: { sameSite: 'none' } } }),
      /sameSite: none needs secure: true/,
    );
    assert.doesNotThrow(() => configSchema.parse({ enrich: { identity: { sameSite: 'none', secure: true } } }));
  });

  it('deletes both cookies and assigns no ids on POST /batch?forget=1 (the tracker withdrawing consent)', async () => {
    const collector = await collectorWith({});
    try {
      const answer = await postJson(collector, '/batch?forget=1', '[]', {
        Cookie: 'beacon_pid=0b1e2c3d-4f50-4a6b-9c7d-8e9fa0b1c2d3',
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json(), { accepted: 0, rejected: [] });
      const deleted = cookies(answer);
      assert.match(deleted.get('beacon_pid')!, /^beacon_pid=; Max-Age=0;/);
      assert.match(deleted.get('beacon_sid')!, /^beacon_sid=; Max-Age=0;/);
      assert.equal(await metricValue(collector.issued.identityRequests, { result: 'forgotten' }), 1);
    } finally {
      await collector.close();
    }
  });

  it('deletes with Secure when sameSite is none, since browsers reject SameSite=None without Secure', async () => {
    for (const mode of ['cookie', 'cookieless'] as const) {
      const collector = await collectorWith({ enrich: { identity: { mode, sameSite: 'none', secure: true } } });
      try {
        const answer = await postJson(collector, '/batch?forget=1', '[]', {
          Cookie: 'beacon_pid=0b1e2c3d-4f50-4a6b-9c7d-8e9fa0b1c2d3',
        });
        const deleted = cookies(answer);
        assert.match(deleted.get('beacon_pid')!, /^beacon_pid=; Max-Age=0;.*SameSite=None.*; Secure$/, mode);
        assert.match(deleted.get('beacon_sid')!, /^beacon_sid=; Max-Age=0;.*SameSite=None.*; Secure$/, mode);
      } finally {
        await collector.close();
      }
    }
  });

  it('adds nothing with mode off', () => {
    assert.equal(
      createIdentityIssuer(configSchema.parse({ enrich: { identity: { mode: 'off' } } }).enrich.identity, {
        server: configSchema.parse({}).server,
        saltDir: saltRoot,
      }),
      undefined,
    );
  });
});

describe('identity: Set-Cookie lines', () => {
  it('a line from the template built once equals the line built whole', () => {
    for (const domain of [undefined, 'example.com'])
      for (const sameSite of ['Lax', 'None'] as const) {
        const suffix = cookieSuffix({ domain, sameSite });
        for (const maxAge of [0, 1800, 63_072_000]) {
          const template = cookieLineTemplate('beacon_pid', maxAge, suffix);
          for (const secure of [false, true])
            for (const value of ['', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'])
              assert.equal(template.of(value, secure), setCookieLine('beacon_pid', value, maxAge, suffix, secure));
        }
      }
  });
});

describe('identity: cookieless mode', () => {
  const DAY = 86_400_000;

  it('derives the same partyId for the same address and agent, sets no cookie and no session', async () => {
    const collector = await collectorWith({ enrich: { identity: { mode: 'cookieless' } } });
    try {
      const first = await collector.send({ path: '/t/a', headers: { 'User-Agent': CHROME } });
      const second = await postJson(collector, '/batch', [{ type: 'b' }], { 'User-Agent': CHROME });
      const otherAgent = await collector.send({ path: '/t/c', headers: { 'User-Agent': 'curl/8.0' } });
      for (const answer of [first, second, otherAgent]) assert.equal(answer.headers['set-cookie'], undefined);
      const [a, b, c] = collector.recorder.events;
      assert.match(a!.partyId!, /^[0-9a-f]{32}$/);
      assert.equal(b!.partyId, a!.partyId);
      assert.notEqual(c!.partyId, a!.partyId);
      assert.equal(a!.sessionId, undefined);
      assert.equal(await metricValue(collector.issued.identityRequests, { result: 'cookieless' }), 3);
    } finally {
      await collector.close();
    }
  });

  it('gives the same visitor a new id each UTC day and keeps only the current salt on disk', async () => {
    let now = Date.UTC(2026, 0, 10, 23, 59);
    const saltDir = join(saltRoot, 'rotating');
    const collector = await collectorWith(
      { enrich: { identity: { mode: 'cookieless' } } },
      { now: () => now, saltDir },
    );
    try {
      await collector.send({ path: '/t/a', headers: { 'User-Agent': CHROME } });
      assert.deepEqual(await readdir(saltDir), ['salt-2026-01-10']);
      now += 2 * 60_000;
      await collector.send({ path: '/t/a', headers: { 'User-Agent': CHROME } });
      assert.deepEqual(
        await readdir(saltDir),
        ['salt-2026-01-11'],
        "yesterday's salt is gone, so yesterday's ids cannot be recomputed",
      );
      const [before, after] = collector.recorder.events;
      assert.notEqual(before!.partyId, after!.partyId);
    } finally {
      await collector.close();
    }
  });

  it('agrees across collector processes and restarts that share the data dir', async () => {
    const now = () => Date.UTC(2026, 0, 12, 8) + 5 * DAY;
    const saltDir = join(saltRoot, 'shared');
    const one = await collectorWith({ enrich: { identity: { mode: 'cookieless' } } }, { now, saltDir });
    const two = await collectorWith({ enrich: { identity: { mode: 'cookieless' } } }, { now, saltDir });
    try {
      await one.send({ path: '/t/a', headers: { 'User-Agent': CHROME } });
      await two.send({ path: '/t/a', headers: { 'User-Agent': CHROME } });
      assert.equal(one.recorder.events[0]!.partyId, two.recorder.events[0]!.partyId);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('deletes identity cookies left from the cookie mode', async () => {
    const collector = await collectorWith({ enrich: { identity: { mode: 'cookieless' } } });
    try {
      const answer = await collector.send({
        path: '/t/a',
        headers: { Cookie: 'beacon_pid=0b1e2c3d-4f50-4a6b-9c7d-8e9fa0b1c2d3' },
      });
      assert.match(cookies(answer).get('beacon_pid')!, /Max-Age=0/);
      assert.match(collector.recorder.events[0]!.partyId!, /^[0-9a-f]{32}$/);
    } finally {
      await collector.close();
    }
  });

  it("goes on without partyId, logging once, when the next day's salt cannot be written", async () => {
    let now = Date.UTC(2026, 2, 1, 23, 59);
    const saltDir = join(saltRoot, 'lost');
    const logged: string[] = [];
    const logger = { error: (_fields: unknown, message: string) => logged.push(message) } as unknown as Logger;
    const parsed = configSchema.parse({ enrich: { identity: { mode: 'cookieless' } } });
    const identity = createIdentityIssuer(parsed.enrich.identity, {
      server: parsed.server,
      saltDir,
      logger,
      now: () => now,
    })!;
    const collector = await startCollector({ browser: { identity } });
    try {
      await collector.send({ path: '/t/a' });
      await rm(saltDir, { recursive: true });
      await writeFile(saltDir, 'the disk changed under Beacon');
      now += 5 * 60_000;
      assert.equal((await collector.send({ path: '/t/b' })).status, 204);
      assert.equal((await collector.send({ path: '/t/c' })).status, 204);
      const [a, b, c] = collector.recorder.events;
      assert.match(a!.partyId!, /^[0-9a-f]{32}$/);
      assert.equal(b!.partyId, undefined);
      assert.equal(c!.partyId, undefined);
      assert.equal(logged.length, 1);
      assert.match(logged[0]!, /cookieless ids are off/);
    } finally {
      await collector.close();
    }
  });

  it('derives nothing for a request with DNT', async () => {
    const collector = await collectorWith({ enrich: { identity: { mode: 'cookieless' } } });
    try {
      await collector.send({ path: '/t/a', headers: { DNT: '1' } });
      assert.equal(collector.recorder.events[0]!.partyId, undefined);
    } finally {
      await collector.close();
    }
  });
});
