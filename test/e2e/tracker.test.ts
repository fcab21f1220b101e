import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { closeBrowserTest } from '../support/browserTest.js';
import { sinkLines } from '../support/sinkFile.js';
import { desktopUserAgent, launchChromium } from '../support/chromium.js';
import { pageErrors, screenshot } from '../support/pageArtifacts.js';
import { startTestSite, type TestSite } from '../support/testSite.js';
import { ensureTrackerBundle } from '../support/trackerBundle.js';
import { waitForValue } from '../support/waitFor.js';

/**
 * beacon.js in a real browser: Debian's Chromium (playwright-core) opens pages of a test site
 * on another port that load the tracker from a running Beacon, and the test reads what
 * Beacon's file sink wrote. Geo needs a public client address: Beacon trusts the proxy header
 * and the browser context adds `X-Forwarded-For: 8.8.8.8` to every request, sendBeacon's too.
 */

interface Line {
  id: string;
  type: string;
  ts: number;
  clientTs?: number;
  partyId?: string;
  sessionId?: string;
  pageViewId?: string;
  ip?: string;
  url?: string;
  referrer?: string;
  props: Record<string, unknown>;
  meta: {
    corrupt?: boolean;
    duplicate?: boolean;
    bot?: boolean;
    clockSkewMs?: number;
    ua?: { browser?: string; os?: string };
    geo?: { country?: string };
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('beacon.js in Chromium', () => {
  let beacon: BeaconProcess;
  let site: TestSite;
  let browser: Browser;
  let sinkFile: string;

  before(async () => {
    await ensureTrackerBundle();
    site = await startTestSite();
    beacon = await startBeacon({
      server: { trustProxy: true, cors: { origins: [site.origin], credentials: true } },
      sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson', codec: 'json' }],
    });
    site.useBeacon(beacon.url);
    sinkFile = join(beacon.dataDir, 'out', 'events.ndjson');
    browser = await launchChromium();
  });

  after(() => closeBrowserTest({ browser, site, beacon }));

  const lines = () => sinkLines<Line>(sinkFile);

  /** Waits until the sink holds events matching every predicate; returns them in that order. */
  function arrived(what: string, ...matches: Array<(line: Line) => boolean>): Promise<Line[]> {
    return waitForValue(
      what,
      async () => {
        const all = await lines();
        const found = matches.map((m) => all.find(m));
        return found.every(Boolean) ? (found as Line[]) : undefined;
      },
      15_000,
    );
  }

  /** A browser profile of its own; `forwardedFor` adds the header to every request (which makes Chromium preflight its fetches). */
  async function newContext(forwardedFor: string | undefined = '8.8.8.8'): Promise<BrowserContext> {
    return browser.newContext({
      userAgent: desktopUserAgent(browser),
      ...(forwardedFor ? { extraHTTPHeaders: { 'X-Forwarded-For': forwardedFor } } : {}),
    });
  }

  /** Every event id the browser put in a request body to Beacon's /batch (retries included). */
  function recordSentIds(context: BrowserContext): { ids: Set<string>; urls: string[] } {
    const sent = { ids: new Set<string>(), urls: [] as string[] };
    context.on('request', (request: Request) => {
      if (!request.url().startsWith(`${beacon.url}/batch`) || request.method() !== 'POST') return;
      sent.urls.push(request.url());
      try {
        for (const event of JSON.parse(request.postData() ?? '[]') as Array<{ id: string }>) sent.ids.add(event.id);
      } catch {
        // not a body the tracker made
      }
    });
    return sent;
  }

  async function trackerLoaded(page: Page): Promise<void> {
    await page.waitForFunction(() => (window as unknown as { beacon?: { loaded?: boolean } }).beacon?.loaded === true);
  }

  it('delivers a visit exactly once: clicks, a client-side route, offline and back, a second page, and the page closing', async () => {
    const context = await newContext();
    const sent = recordSentIds(context);
    const page = await context.newPage();
    const errors = pageErrors(page);
    const home = `${site.origin}/`;

    await page.goto(home);
    await trackerLoaded(page);
    await page.click('#buy');
    await page.click('#products');
    await page.evaluate(() =>
      (window as unknown as { beacon: (...a: unknown[]) => void }).beacon('identify', 'user-42', { plan: 'pro' }),
    );
    await arrived('the online events', (l) => l.type === 'identify');

    await context.setOffline(true);
    await page.evaluate(() =>
      (window as unknown as { beacon: (...a: unknown[]) => void }).beacon('track', 'offline_note', { n: 1 }),
    );
    await page.evaluate(() => history.back());
    await page.waitForURL(home);
    // Longer than a flush interval: the tracker must hold the events, not lose them.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(
      (await lines()).filter((l) => l.type === 'offline_note').length,
      0,
      'nothing reaches Beacon while offline',
    );
    const stored = await page.evaluate(() =>
      Object.keys(localStorage)
        .filter((k) => k.startsWith('beacon_q.'))
        .map((k) => localStorage.getItem(k))
        .join(''),
    );
    assert.match(stored, /offline_note/, 'the offline events wait in localStorage');

    await context.setOffline(false);
    await arrived('the events queued offline', (l) => l.type === 'offline_note');

    await page.click('#other');
    await page.waitForURL(`${site.origin}/other`);
    await trackerLoaded(page);
    await arrived('the second page view', (l) => l.type === 'pageview' && l.url === `${site.origin}/other`);
    await screenshot(page, 'e2e', 'tracker-visit');
    const cookies = await context.cookies(beacon.url);
    await page.evaluate(() =>
      (window as unknown as { beacon: (...a: unknown[]) => void }).beacon('track', 'last_words'),
    );
    assert.deepEqual(errors, [], 'the tracker raised no error and the browser logged none');
    // Closed before the flush timer fires: only the pagehide sendBeacon can deliver it.
    await page.close();
    await arrived('the event sent as the page closed', (l) => l.type === 'last_words');
    await new Promise((r) => setTimeout(r, 500));

    const all = await lines();
    // Beaconed events are resent a minute later with `resend=1`, and the collector drops the
    // copies it already holds: no duplicate row for any id the tracker sent.
    const fromSite = all.filter((l) => l.url?.startsWith(site.origin));
    const visit = fromSite.filter((l) => l.meta.duplicate !== true);
    assert.deepEqual(
      fromSite.filter((l) => l.meta.duplicate === true && sent.ids.has(l.id)).map((l) => `${l.type} ${l.id}`),
      [],
      'no duplicate rows',
    );
    const expected = [
      'pageview /',
      'click /',
      'pageview /products',
      'identify /products',
      'offline_note /products',
      'pageview /',
      'pageview /other',
      'last_words /other',
    ];
    assert.deepEqual(
      visit.map((l) => `${l.type} ${new URL(l.url!).pathname}`).sort(),
      [...expected].sort(),
      'every expected event arrived, none twice',
    );
    const ids = visit.map((l) => l.id);
    assert.equal(new Set(ids).size, ids.length, 'no event id twice in the sink unflagged');
    for (const id of ids) assert.match(id, UUID, 'ids are the client ids the tracker made');
    for (const id of sent.ids) assert.ok(ids.includes(id), `id ${id} was sent but is not in the sink`);
    assert.ok(
      sent.urls.length > 0 && sent.urls.every((u) => /[?&]cs=[0-9a-f]{8}(&|$)/.test(u)),
      'every batch carries its checksum',
    );

    const party = visit[0]!.partyId!;
    const session = visit[0]!.sessionId!;
    assert.match(party, UUID);
    assert.match(session, UUID);
    for (const line of visit) {
      assert.equal(line.partyId, party, `${line.type}: one party across pages`);
      assert.equal(line.sessionId, session, `${line.type}: one session`);
      assert.equal(line.meta.corrupt, undefined);
      assert.equal(line.meta.bot, undefined);
      assert.equal(line.meta.ua?.browser, 'Chrome');
      assert.equal(line.meta.geo?.country, 'US', `${line.type}: geo from the forwarded address`);
      assert.equal(line.ip, '8.8.8.0');
      assert.equal(typeof line.clientTs, 'number');
    }
    const pid = cookies.find((c) => c.name === 'beacon_pid');
    assert.equal(pid?.value, party, 'the party id lives in the first-party cookie');
    assert.equal(pid?.httpOnly, true);

    const byType = (type: string, path: string) =>
      visit.find((l) => l.type === type && new URL(l.url!).pathname === path)!;
    const views = visit.filter((l) => l.type === 'pageview');
    assert.equal(new Set(views.map((l) => l.pageViewId)).size, 4, 'a new pageViewId per page view');
    const [firstHome, backHome] = views
      .filter((l) => new URL(l.url!).pathname === '/')
      .sort((a, b) => a.clientTs! - b.clientTs!);
    assert.equal(byType('click', '/').pageViewId, firstHome!.pageViewId);
    assert.equal(
      backHome!.referrer,
      `${site.origin}/products`,
      'going back is a page view too, referred by the route it left',
    );
    assert.equal(byType('identify', '/products').pageViewId, byType('pageview', '/products').pageViewId);
    assert.equal(byType('offline_note', '/products').pageViewId, byType('pageview', '/products').pageViewId);
    assert.equal(byType('last_words', '/other').pageViewId, byType('pageview', '/other').pageViewId);
    assert.equal(byType('pageview', '/products').referrer, home, 'a client-side route refers to the view before it');
    assert.deepEqual(byType('identify', '/products').props, { userId: 'user-42', traits: { plan: 'pro' } });
    const late = byType('offline_note', '/products');
    assert.ok(
      late.meta.clockSkewMs! >= 2000,
      `the offline event was sent ${late.meta.clockSkewMs} ms after it happened`,
    );

    const metrics = await (await fetch(`${beacon.url}/metrics`)).text();
    assert.match(
      metrics,
      /beacon_identity_requests_total\{result="new"\} 1\n/,
      'one party was created for the whole visit',
    );
    await context.close();
  });

  it('keeps the events of a tab hidden while the collector answers 503, and sends them later by fetch', async () => {
    const context = await newContext();
    const batches: string[] = [];
    context.on('request', (r) => {
      if (r.url().startsWith(`${beacon.url}/batch`)) batches.push(r.resourceType());
    });
    const page = await context.newPage();
    const errors = pageErrors(page);
    const start = `${site.origin}/?hidden`;
    await page.goto(start);
    await trackerLoaded(page);
    await arrived('the page view', (l) => l.type === 'pageview' && l.url === start);

    // The collector's log is full: every batch gets a 503 (readable: with the CORS headers).
    let refused = 0;
    await page.route(`${beacon.url}/batch?*`, async (route) => {
      refused++;
      await route.fulfill({
        status: 503,
        headers: {
          'Access-Control-Allow-Origin': site.origin,
          'Access-Control-Allow-Credentials': 'true',
          'Retry-After': '1',
        },
        body: '{"code":"BEACON_E_LOG_FULL"}',
      });
    });
    // As a tab switch does it (a string: tsx would wrap a function's getter in a helper the page lacks).
    const setVisibility = (state: 'hidden' | 'visible') =>
      page.evaluate(`Object.defineProperty(document, 'visibilityState', { configurable: true, value: '${state}' });
        document.dispatchEvent(new Event('visibilitychange'))`);
    batches.length = 0;
    await page.evaluate(() => {
      const b = (window as unknown as { beacon: (...a: unknown[]) => void }).beacon;
      b('track', 'while_hidden', { n: 1 });
      b('track', 'while_hidden', { n: 2 });
    });
    // A tab switch, before the 1 s flush timer: the tracker sends at once.
    await setVisibility('hidden');
    await waitForValue('the refused batch', async () => refused > 0 || undefined);
    await new Promise((r) => setTimeout(r, 300));
    const stored = await page.evaluate(() =>
      Object.keys(localStorage)
        .filter((k) => k.startsWith('beacon_q.'))
        .map((k) => localStorage.getItem(k))
        .join(''),
    );
    assert.equal((stored.match(/while_hidden/g) ?? []).length, 2, 'both events are still stored after the 503');
    assert.ok(
      batches.length > 0 && batches.every((t) => t === 'fetch'),
      `sent by fetch, never sendBeacon (${batches.join(', ')})`,
    );

    await page.unroute(`${beacon.url}/batch?*`);
    await setVisibility('visible');
    await arrived(
      'the events refused while the tab was hidden',
      (l) => l.type === 'while_hidden' && l.props.n === 1,
      (l) => l.type === 'while_hidden' && l.props.n === 2,
    );
    await waitForValue(
      'the stored queue emptied',
      async () =>
        (await page.evaluate(() => Object.keys(localStorage).some((k) => k.startsWith('beacon_q.')))) === false ||
        undefined,
    );
    const hidden = (await lines()).filter((l) => l.type === 'while_hidden' && l.meta.duplicate !== true);
    assert.equal(hidden.length, 2, 'each once');
    assert.ok(batches.every((t) => t === 'fetch'));
    assert.deepEqual(
      errors.filter((e) => !/503|Failed to load resource/.test(e)),
      [],
      'no error but the refused requests',
    );
    await context.close();
  });

  it('flags a batch altered on the way as corrupt', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.route(`${beacon.url}/batch?*`, async (route) => {
      const body = route.request().postData() ?? '';
      await route.continue({ postData: body.replace('"intact"', '"altered"') });
    });
    await page.goto(`${site.origin}/?corruption`);
    await trackerLoaded(page);
    const [view] = await arrived(
      'the page view, in a batch that passes unaltered',
      (l) => l.type === 'pageview' && l.url === `${site.origin}/?corruption`,
    );
    assert.equal(view!.meta.corrupt, undefined);
    await page.evaluate(() =>
      (window as unknown as { beacon: (...a: unknown[]) => void }).beacon('track', 'tamper_me', { state: 'intact' }),
    );
    const [tampered] = await arrived('the altered event', (l) => l.type === 'tamper_me');
    assert.equal(tampered!.props.state, 'altered');
    assert.equal(tampered!.meta.corrupt, true);
    await context.close();
  });

  it('stops everything on consent false (no request, ids and stored events cleared) and starts a new party on consent true', async () => {
    const context = await newContext(undefined);
    const methods = new Set<string>();
    context.on('request', (r) => {
      if (r.url().startsWith(beacon.url)) methods.add(r.method());
    });
    const page = await context.newPage();
    const start = `${site.origin}/?consent`;
    await page.goto(start);
    await trackerLoaded(page);
    const [first] = await arrived('the page view before opting out', (l) => l.type === 'pageview' && l.url === start);
    assert.ok((await context.cookies(beacon.url)).some((c) => c.name === 'beacon_pid'));

    const forgotten = page.waitForResponse((r) => r.url().includes('/batch?forget=1'));
    await page.evaluate(() => (window as unknown as { beacon: (...a: unknown[]) => void }).beacon('consent', false));
    assert.equal((await forgotten).status(), 200);
    assert.deepEqual(
      (await context.cookies(beacon.url)).filter((c) => c.name.startsWith('beacon_')),
      [],
      'the id cookies are deleted',
    );
    const storage = await page.evaluate(() => ({ local: { ...localStorage }, session: { ...sessionStorage } }));
    assert.deepEqual(
      storage,
      { local: { beacon_consent: '0' }, session: {} },
      'only the opt-out itself is kept on the device',
    );

    const afterOptOut: string[] = [];
    context.on('request', (r) => {
      if (r.url().startsWith(beacon.url) && !r.url().endsWith('/beacon.js'))
        afterOptOut.push(`${r.method()} ${r.url()}`);
    });
    await page.evaluate(() => {
      const b = (window as unknown as { beacon: (...a: unknown[]) => void }).beacon;
      b('track', 'after_optout');
      b('identify', 'user-7');
      history.pushState({}, '', '/after-optout');
    });
    await page.reload();
    await trackerLoaded(page);
    await page.evaluate(() =>
      (window as unknown as { beacon: (...a: unknown[]) => void }).beacon('track', 'after_reload'),
    );
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(afterOptOut, [], 'nothing is sent after consent is withdrawn, not even on the next page');
    assert.equal(
      (await lines()).filter(
        (l) => l.type === 'after_optout' || l.type === 'after_reload' || l.url?.endsWith('/after-optout'),
      ).length,
      0,
    );

    await page.evaluate(() => (window as unknown as { beacon: (...a: unknown[]) => void }).beacon('consent', true));
    const [resumed] = await arrived(
      'the page view after consent is given again',
      (l) => l.type === 'pageview' && l.url === `${site.origin}/after-optout` && l.ts > first!.ts,
    );
    assert.match(resumed!.partyId!, UUID);
    assert.notEqual(resumed!.partyId, first!.partyId, 'a withdrawn party is not resumed');
    assert.equal(await page.evaluate(() => localStorage.getItem('beacon_consent')), null);
    assert.ok(
      !methods.has('OPTIONS'),
      `the tracker's requests are simple requests, never preflighted (${[...methods].join(', ')})`,
    );
    await context.close();
  });
});
