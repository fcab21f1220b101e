import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { bundleForPage, closeBrowserTest, startScriptSite, type Site } from '../support/browserTest.js';
import { sinkLines } from '../support/sinkFile.js';
import { desktopUserAgent, launchChromium } from '../support/chromium.js';
import { pageErrors } from '../support/pageArtifacts.js';
import { waitForValue } from '../support/waitFor.js';

/**
 * The real @snowplow/browser-tracker in Debian's Chromium: bundled here with esbuild (nothing
 * from a CDN) into a page served from another origin than Beacon, sending page views,
 * structured and self-describing events with contexts, once with the POST transport and once
 * with GET. The tracker sends every request with `fetch` and `credentials: 'include'`, so this
 * also proves the CORS answers (exact origin, Access-Control-Allow-Credentials) and the `sp`
 * cookie: a CORS failure would make the tracker resend, which shows up as a duplicate (Beacon
 * runs with the default `enrich.duplicates.action: flag`, so a repeat is written, flagged).
 */

interface Line {
  id: string;
  type: string;
  partyId?: string;
  sessionId?: string;
  pageViewId?: string;
  url?: string;
  props: Record<string, unknown>;
  meta: {
    source?: string;
    duplicate?: boolean;
    ua?: { browser?: string };
    snowplow?: {
      schema?: string;
      contexts?: Array<{ schema: string; data: unknown }>;
      params?: Record<string, string>;
    };
  };
}

const PRODUCT_SCHEMA = 'iglu:com.acme/viewed_product/jsonschema/1-0-0';
const USER_CONTEXT = { schema: 'iglu:com.acme/user/jsonschema/1-0-0', data: { plan: 'pro' } };

/** The browser tracker as a page script: `window.sp` exposes the calls the test makes. */
const TRACKER_ENTRY = `import { newTracker, trackPageView, trackStructEvent, trackSelfDescribingEvent } from '@snowplow/browser-tracker';
window.sp = { newTracker, trackPageView, trackStructEvent, trackSelfDescribingEvent };`;

describe('@snowplow/browser-tracker in Chromium, from another origin', () => {
  let beacon: BeaconProcess;
  let site: Site;
  let browser: Browser;
  let sinkFile: string;

  before(async () => {
    site = await startScriptSite('/sp.js', bundleForPage(TRACKER_ENTRY));
    beacon = await startBeacon({
      snowplow: { enabled: true, appIds: ['site'] },
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
    sinkFile = join(beacon.dataDir, 'out', 'events.ndjson');
    browser = await launchChromium();
  });

  after(() => closeBrowserTest({ browser, site, beacon }));

  const lines = () => sinkLines<Line>(sinkFile);

  for (const eventMethod of ['post', 'get'] as const) {
    it(`stores every event once with the ${eventMethod.toUpperCase()} transport, with its contexts, page view id and one sp network user id`, async () => {
      const context = await browser.newContext({ userAgent: desktopUserAgent(browser) });
      const page = await context.newPage();
      const problems = pageErrors(page, { strict: true });
      const answers: number[] = [];
      page.on('response', (r) => {
        if (r.url().startsWith(beacon.url)) answers.push(r.status());
      });
      try {
        await page.goto(`${site.origin}/`);
        // A string, not a function: tsx would add helpers (__name) the page does not have.
        const sent = (await page.evaluate(`(() => {
          const eids = [];
          sp.newTracker('sp1', ${JSON.stringify(beacon.url)}, {
            appId: 'site',
            eventMethod: ${JSON.stringify(eventMethod)},
            bufferSize: 1,
            contexts: { webPage: true },
            plugins: [{ afterTrack: function (payload) { eids.push(payload.eid); } }],
          });
          sp.trackPageView();
          for (let i = 0; i < 4; i++) sp.trackStructEvent({ category: 'shop', action: 'add', label: 'sku-' + i, value: i + 0.5 });
          sp.trackSelfDescribingEvent({ event: { schema: ${JSON.stringify(PRODUCT_SCHEMA)}, data: { productId: 'ASO01043', price: 49.95 } }, context: [${JSON.stringify(USER_CONTEXT)}] });
          sp.trackSelfDescribingEvent({ event: { schema: ${JSON.stringify(PRODUCT_SCHEMA)}, data: { productId: 'ünïcode ✓', price: 1 } } });
          return eids;
        })()`)) as string[];
        assert.equal(sent.length, 7);
        const stored = await waitForValue(
          `the ${sent.length} ${eventMethod} events in the file sink`,
          async () => {
            const found = (await lines()).filter((e) => sent.includes(e.id));
            return new Set(found.map((e) => e.id)).size === sent.length ? found : undefined;
          },
          20_000,
        );
        // A repeat would be in the same or the next sink batch; give it time to show up.
        await new Promise((r) => setTimeout(r, 500));
        const all = (await lines()).filter((e) => sent.includes(e.id));
        console.log(
          `snowplow browser-tracker ${eventMethod.toUpperCase()}: sent ${sent.length} / stored ${new Set(all.map((e) => e.id)).size} / duplicates ${all.length - new Set(all.map((e) => e.id)).size}`,
        );
        assert.equal(all.length, sent.length, 'every event stored once: no resend reached the file');
        assert.deepEqual(problems, [], 'no CORS or network error in the page');
        // POST packs the events queued behind a request in flight into one body; GET sends one per request.
        assert.ok(
          answers.length >= (eventMethod === 'get' ? sent.length : 1) && answers.every((s) => s === 200 || s === 204),
          `Beacon answered ${answers.join(',')}`,
        );

        const byId = new Map(stored.map((e) => [e.id, e]));
        const [pv, ...rest] = sent.map((id) => byId.get(id)!);
        assert.equal(pv!.type, 'page_view');
        assert.deepEqual(pv!.props, { title: 'Shop' });
        assert.equal(pv!.url, `${site.origin}/`);
        assert.deepEqual(
          rest.slice(0, 4).map((e) => [e.type, e.props.label, e.props.value]),
          [0, 1, 2, 3].map((i) => ['structured_event', `sku-${i}`, i + 0.5]),
        );
        const [ue, unicode] = rest.slice(4);
        assert.deepEqual(
          [ue!.type, ue!.props, ue!.meta.snowplow?.schema],
          ['viewed_product', { productId: 'ASO01043', price: 49.95 }, PRODUCT_SCHEMA],
        );
        assert.deepEqual(
          ue!.meta.snowplow?.contexts?.find((c) => c.schema === USER_CONTEXT.schema),
          USER_CONTEXT,
        );
        assert.equal(unicode!.props.productId, 'ünïcode ✓');
        const all7 = [pv!, ...rest];
        assert.equal(
          new Set(all7.map((e) => e.pageViewId)).size,
          1,
          'one page view id (the web_page context) on every event of the page',
        );
        assert.ok(pv!.pageViewId);
        const parties = new Set(all7.map((e) => e.partyId));
        assert.equal(parties.size, 1, `one network user id across the page's events: ${[...parties].join(', ')}`);
        const cookie = (await context.cookies(beacon.url)).find((c) => c.name === 'sp');
        assert.equal(cookie?.value, pv!.partyId, 'partyId is the sp cookie the browser keeps');
        assert.ok(
          all7.every(
            (e) => e.meta.source === 'snowplow' && e.sessionId !== undefined && e.meta.ua?.browser === 'Chrome',
          ),
        );
      } finally {
        await context.close();
      }
    });
  }
});
