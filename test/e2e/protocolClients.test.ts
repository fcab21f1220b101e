import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser, Request } from 'playwright-core';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { bundleForPage, closeBrowserTest, startScriptSite, type Site } from '../support/browserTest.js';
import { sinkLines } from '../support/sinkFile.js';
import { desktopUserAgent, launchChromium } from '../support/chromium.js';
import { pageErrors } from '../support/pageArtifacts.js';
import { waitForValue } from '../support/waitFor.js';

/**
 * posthog-js and plausible-tracker, their npm packages unmodified, bundled with esbuild into
 * a page served from another origin than Beacon (nothing from a CDN), in Debian's Chromium.
 * Every event the browser sent (read back from the requests it made, gzip bodies included)
 * is stored once; posthog-js gets its remote config and flags answered empty and runs
 * without an error.
 */

const KEY = 'phc_browser_test_key';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Line = {
  id: string;
  type: string;
  ts: number;
  partyId?: string;
  url?: string;
  props: Record<string, unknown>;
  meta: Record<string, unknown>;
};

const ENTRY = `
import posthog from 'posthog-js';
import Plausible from 'plausible-tracker';
window.clients = { posthog, Plausible };
`;

/** The events in a posthog-js request body: gzip or not, one event or a list. */
function posthogEventsIn(request: Request): Array<{ uuid?: string; event?: string }> {
  const raw = request.postDataBuffer();
  if (raw === null || raw.length === 0) return [];
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
  const value = JSON.parse(text) as unknown;
  const list = Array.isArray(value) ? value : ((value as { batch?: unknown[] }).batch ?? [value]);
  return list as Array<{ uuid?: string; event?: string }>;
}

describe('posthog-js and plausible-tracker in Chromium', () => {
  let beacon: BeaconProcess;
  let site: Site;
  let browser: Browser;
  let out: string;

  before(async () => {
    const built = spawnSync(process.execPath, ['scripts/build-web.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, `web build failed: ${built.stderr}`);
    site = await startScriptSite('/clients.js', bundleForPage(ENTRY, { minify: true }));
    beacon = await startBeacon({
      server: { cors: { origins: [site.origin] } },
      posthog: { enabled: true, apiKeys: [KEY] },
      plausible: { enabled: true, domains: ['shop.example'] },
      enrich: { duplicates: { action: 'drop' } },
      sinks: [
        {
          name: 'archive',
          type: 'file',
          path: 'out/events.ndjson',
          codec: 'json',
          batch: { maxEvents: 100, maxWaitMs: 20 },
        },
      ],
    });
    out = join(beacon.dataDir, 'out', 'events.ndjson');
    browser = await launchChromium();
  });
  after(() => closeBrowserTest({ browser, site, beacon }));

  const lines = () => sinkLines<Line>(out);

  it('posthog-js: the page view, captures, identify and group arrive once each, with its remote config and flags answered', async () => {
    const context = await browser.newContext({ userAgent: desktopUserAgent(browser) });
    const sent = new Map<string, string>();
    const calls: string[] = [];
    let gzipBodies = 0;
    context.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(beacon.url)) return;
      calls.push(`${request.method()} ${new URL(url).pathname}`);
      if (request.method() === 'POST' && /\/(e|i\/v0\/e|batch|capture)\/?$/.test(new URL(url).pathname)) {
        const raw = request.postDataBuffer();
        if (raw !== null && raw[0] === 0x1f && raw[1] === 0x8b) gzipBodies++;
        for (const e of posthogEventsIn(request)) if (e.uuid) sent.set(e.uuid, e.event ?? '');
      }
    });
    const page = await context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${site.origin}/`);
    await page.evaluate(
      ({ key, host }) => {
        const { posthog } = (window as unknown as { clients: { posthog: { init(k: string, o: object): void } } })
          .clients;
        posthog.init(key, {
          api_host: host,
          opt_out_useragent_filter: true,
          autocapture: false,
          capture_pageleave: false,
          capture_dead_clicks: false,
          capture_heatmaps: false,
          capture_exceptions: false,
          capture_performance: false,
          disable_session_recording: true,
          disable_surveys: true,
          disable_external_dependency_loading: true,
        });
      },
      { key: KEY, host: beacon.url },
    );
    await page.evaluate(() => {
      const { posthog } = (
        window as unknown as {
          clients: {
            posthog: {
              capture(e: string, p?: object): void;
              identify(id: string, p?: object): void;
              group(t: string, k: string, p?: object): void;
            };
          };
        }
      ).clients;
      posthog.capture('clicked buy', { button: 'buy', price: 30 });
      posthog.identify('user-42', { plan: 'pro' });
      posthog.group('company', 'acme', { seats: 12 });
      posthog.capture('$pageview');
    });

    const stored = await waitForValue(
      'every event posthog-js sent, in the file sink',
      async () => {
        if (sent.size < 5) return undefined;
        const found = (await lines()).filter((e) => sent.has(e.id));
        return new Set(found.map((e) => e.id)).size === sent.size ? found : undefined;
      },
      30_000,
    );
    // Let one more sink batch pass: a second copy would show up by then.
    await new Promise((r) => setTimeout(r, 300));
    const copies = (await lines()).filter((e) => sent.has(e.id));
    assert.equal(copies.length, sent.size, `each of the ${sent.size} events stored once`);
    const names = stored.map((e) => (e.meta.posthog as { event: string }).event).sort();
    for (const name of ['$pageview', 'clicked buy', '$identify', '$groupidentify'])
      assert.ok(names.includes(name), `${name} arrived (got ${names.join(', ')})`);
    const click = stored.find((e) => (e.meta.posthog as { event: string }).event === 'clicked buy')!;
    assert.deepEqual([click.props.button, click.props.price], ['buy', 30]);
    assert.equal(click.url, `${site.origin}/`);
    assert.equal(
      (click.meta.ua as { browser?: string } | undefined)?.browser,
      'Chrome',
      "posthog-js' requests carry the visitor's UA",
    );
    assert.ok(
      calls.some((c) => c.includes(`/array/${KEY}/config`)),
      `posthog-js loaded its remote config from Beacon (${calls.join(', ')})`,
    );
    assert.ok(
      calls.some((c) => c.startsWith('POST /flags')),
      `posthog-js asked for its flags (on identify) and got them empty (${calls.join(', ')})`,
    );
    assert.ok(gzipBodies > 0, 'posthog-js gzipped its bodies, as the remote config advertises, and Beacon read them');
    assert.deepEqual(errors, [], 'posthog-js ran without an error');
    console.log(`posthog-js: ${sent.size} events sent and stored once; requests: ${calls.join(', ')}`);
    await context.close();
  });

  it('plausible-tracker: a page view and a custom event with props arrive once each', async () => {
    const context = await browser.newContext({ userAgent: desktopUserAgent(browser) });
    let requests = 0;
    context.on('request', (request) => {
      if (request.url() === `${beacon.url}/api/event`) requests++;
    });
    const page = await context.newPage();
    const errors = pageErrors(page);
    await page.goto(`${site.origin}/pricing`);
    await page.evaluate((host) => {
      type Tracker = { trackPageview(): void; trackEvent(name: string, options?: object): void };
      const { Plausible } = (window as unknown as { clients: { Plausible: (o: object) => Tracker } }).clients;
      const plausible = Plausible({ domain: 'shop.example', apiHost: host, trackLocalhost: true });
      plausible.trackPageview();
      plausible.trackEvent('Signup', { props: { plan: 'pro' } });
    }, beacon.url);
    const stored = await waitForValue(
      'both Plausible events in the file sink',
      async () => {
        const found = (await lines()).filter((e) => e.meta.source === 'plausible');
        return found.length >= 2 ? found : undefined;
      },
      20_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(requests, 2);
    assert.equal((await lines()).filter((e) => e.meta.source === 'plausible').length, 2, 'each stored once');
    const signup = stored.find((e) => e.type === 'Signup')!;
    assert.deepEqual(signup.props, { plan: 'pro' });
    assert.equal(signup.url, `${site.origin}/pricing`);
    assert.ok(stored.some((e) => e.type === 'pageview'));
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("the web page's live view shows where each event came from", async () => {
    const page = await browser.newPage();
    await page.goto(`${beacon.url}/`);
    await page.locator('.conn', { hasText: 'following' }).waitFor({ timeout: 10_000 });
    const answer = await fetch(`${beacon.url}/api/event`, {
      method: 'POST',
      body: JSON.stringify({ n: 'badge_check', u: 'https://shop.example/' }),
      headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0' },
    });
    assert.equal(answer.status, 202);
    const row = page.locator('.events .row', { hasText: 'badge_check' });
    await row.first().waitFor({ timeout: 10_000 });
    assert.equal(await row.first().locator('.flag.source').innerText(), 'plausible');
    await page.close();
  });
});
