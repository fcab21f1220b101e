import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { bundleForPage, closeBrowserTest, startScriptSite, type Site } from '../support/browserTest.js';
import { sinkLines } from '../support/sinkFile.js';
import { desktopUserAgent, launchChromium } from '../support/chromium.js';
import { pageErrors } from '../support/pageArtifacts.js';
import { waitForValue } from '../support/waitFor.js';

/**
 * analytics.js (@segment/analytics-next, bundled here with esbuild) in Debian's Chromium, on a
 * page of a site on another port, sending to Beacon's Segment API. Its settings are given in
 * the page (`cdnSettings`), so nothing is asked of Segment's CDN, and every request that is
 * not to 127.0.0.1 is refused and counted. analytics.js sends its write key in an
 * Authorization header, so each cross-origin call is preflighted (CORS): the events arriving
 * prove Beacon answers that preflight. Both of its delivery strategies are covered: one
 * request per call (`/v1/t`, `/v1/p`, ...) and batching (`/v1/b`).
 */

const WRITE_KEY = 'wk_browser_test_9d3f7a21';
const NAMES = [
  'Äpfel gekauft',
  '$pageleave',
  '_internal_sync',
  '購入完了',
  'ログインしました',
  '注册成功',
  'Заказ оформлен',
  '🎉 Party',
  'Order Completed',
  `Long ${'x'.repeat(90)}`,
];

type Line = { type: string; props: Record<string, unknown>; meta: { segment?: { event?: string } } };

function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 'here' };
  for (let i = 1; i < levels; i++) value = { level: value };
  return value;
}

describe('analytics.js (analytics-next) in Chromium against the Segment API', () => {
  const run = randomUUID().slice(0, 8);
  let beacon: BeaconProcess;
  let site: Site;
  let browser: Browser;
  let out: string;

  before(async () => {
    const bundled = bundleForPage(
      "import { AnalyticsBrowser } from '@segment/analytics-next'; window.AnalyticsBrowser = AnalyticsBrowser;",
      { target: 'es2020' },
    );
    site = await startScriptSite('/ajs.js', bundled);
    // Beacon, the bundle and the browser start side by side: each takes seconds on a busy machine.
    [beacon, browser] = await Promise.all([
      startBeacon({
        server: { cors: { origins: [site.origin] } },
        segment: { enabled: true, writeKeys: [WRITE_KEY] },
        sinks: [
          {
            name: 'archive',
            type: 'file',
            path: 'out/events.ndjson',
            codec: 'json',
            batch: { maxEvents: 100, maxWaitMs: 20 },
          },
        ],
      }),
      launchChromium(),
      bundled,
    ]);
    out = join(beacon.dataDir, 'out', 'events.ndjson');
  });

  after(() => closeBrowserTest({ browser, site, beacon }));

  const lines = () => sinkLines<Line>(out);

  async function sendFromPage(t: TestContext, strategy: 'standard' | 'batching'): Promise<void> {
    const context = await browser.newContext({ userAgent: desktopUserAgent(browser) });
    const outside: string[] = [];
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      outside.push(url.href);
      return route.abort();
    });
    const toBeacon: Array<{ path: string; auth: boolean; status?: number }> = [];
    context.on('requestfinished', async (request) => {
      if (!request.url().startsWith(beacon.url)) return;
      const response = await request.response();
      toBeacon.push({
        path: new URL(request.url()).pathname,
        auth: (await request.allHeaders()).authorization !== undefined,
        status: response?.status(),
      });
    });
    const page = await context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${site.origin}/`);
    const settings = {
      writeKey: WRITE_KEY,
      cdnURL: site.origin,
      apiHost: `127.0.0.1:${beacon.port}/v1`,
      deliveryStrategy:
        strategy === 'batching' ? { strategy: 'batching', config: { size: 4, timeout: 300 } } : undefined,
    };
    const calls = { names: NAMES, run, strategy, deep: nested(12) };
    await page.evaluate(
      async ({ settings: s, calls: c }) => {
        const { AnalyticsBrowser } = window as unknown as {
          AnalyticsBrowser: {
            load(
              settings: unknown,
            ): Promise<unknown> & { track(...a: unknown[]): Promise<unknown>; page(...a: unknown[]): Promise<unknown> };
          };
        };
        const analytics = AnalyticsBrowser.load({
          writeKey: s.writeKey,
          cdnURL: s.cdnURL,
          // What Segment's CDN would answer, so nothing is asked of it: only the Segment.io destination, pointed at Beacon.
          cdnSettings: {
            integrations: {
              'Segment.io': {
                apiKey: s.writeKey,
                apiHost: s.apiHost,
                protocol: 'http',
                ...(s.deliveryStrategy ? { deliveryStrategy: s.deliveryStrategy } : {}),
              },
            },
          },
        });
        const sent: Promise<unknown>[] = c.names.map((name, n) =>
          analytics.track(name, { run: c.run, strategy: c.strategy, n }),
        );
        sent.push(analytics.track('Deep Props', { run: c.run, strategy: c.strategy, n: 100, tree: c.deep }));
        sent.push(analytics.page('Docs', 'Pricing', { run: c.run, strategy: c.strategy, n: 101 }));
        await Promise.all(sent);
      },
      { settings, calls },
    );
    const expected = NAMES.length + 2;
    const mine = async () => (await lines()).filter((e) => e.props.run === run && e.props.strategy === strategy);
    await waitForValue(
      `${expected} events sent with the ${strategy} strategy`,
      async () => ((await mine()).length >= expected ? true : undefined),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const stored = await mine();
    t.diagnostic(
      `analytics-next (${strategy}): ${expected} sent, ${stored.length} stored; requests to Beacon: ${[...new Set(toBeacon.map((r) => r.path))].join(', ')}`,
    );
    await context.close();

    assert.deepEqual(outside, [], 'nothing was asked of any host but 127.0.0.1');
    assert.deepEqual(
      stored.map((e) => Number(e.props.n)).sort((a, b) => a - b),
      [...NAMES.keys(), 100, 101],
      'every event stored once',
    );
    const tracks = stored
      .filter((e) => Number(e.props.n) < NAMES.length)
      .sort((a, b) => Number(a.props.n) - Number(b.props.n));
    assert.deepEqual(
      tracks.map((e) => e.meta.segment?.event ?? e.type),
      NAMES,
      'the original names in meta.segment.event',
    );
    assert.equal(new Set(tracks.map((e) => e.type)).size, NAMES.length);
    for (const e of stored) assert.match(e.type, /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/);
    assert.deepEqual(stored.find((e) => e.props.n === 100)!.props.tree, nested(12));
    assert.ok(
      toBeacon.length > 0 && toBeacon.every((r) => r.auth && r.status === 200),
      `every call carried Authorization (so was preflighted) and got 200: ${JSON.stringify(toBeacon)}`,
    );
    assert.ok(
      toBeacon.every((r) => (strategy === 'batching' ? r.path === '/v1/b' : r.path === '/v1/t' || r.path === '/v1/p')),
      JSON.stringify(toBeacon.map((r) => r.path)),
    );
    assert.deepEqual(errors, [], 'the page logged no error');
  }

  it('one request per call (/v1/t, /v1/p): every event stored once, nothing sent off the machine', async (t) => {
    await sendFromPage(t, 'standard');
  });

  it('batching (/v1/b): every event stored once', async (t) => {
    await sendFromPage(t, 'batching');
  });
});
