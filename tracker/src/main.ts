import { uuid } from './ids.js';
import { createOutbox, type WireEvent } from './outbox.js';
import { openStore } from './storage.js';

/**
 * beacon.js, Beacon's browser tracker (docs/tracker.md). The page's snippet defines a stub
 * `beacon(...)` that queues its calls in `beacon.q`; this script replays them and replaces
 * the stub. Commands: track, page, identify, consent. It sends to the collector it was loaded
 * from (or the script tag's `data-endpoint`), never anywhere else.
 */

/** Written into the bundle by the collector that serves it (src/sources/http/trackerScript.ts). */
declare const __beaconSettings: { credentials?: boolean };

type Props = Record<string, unknown>;
interface BeaconFunction {
  (...args: unknown[]): void;
  q?: ArrayLike<unknown>[];
  loaded?: boolean;
}

/** localStorage key set while consent is withdrawn, so later pages stay silent too. */
const CONSENT_KEY = 'beacon_consent';
/** sessionStorage key of this tab's random id, which names its queue in localStorage. */
const TAB_KEY = 'beacon_tab';

const page = window as unknown as { beacon?: BeaconFunction };
const stub = page.beacon;

if (!stub || !stub.loaded) start(stub ? Array.prototype.slice.call(stub.q || []) : []);

function start(queued: ArrayLike<unknown>[]): void {
  const script = (document.currentScript ||
    document.querySelector('script[src*="/beacon.js"]')) as HTMLScriptElement | null;
  const src = script ? script.src.split('?')[0]! : '';
  const endpoint = (script && script.getAttribute('data-endpoint')) || src.slice(0, src.lastIndexOf('/'));
  if (!endpoint)
    return console.warn('beacon: cannot tell where to send; load beacon.js from the collector or set data-endpoint');
  const credentials: RequestCredentials = __beaconSettings.credentials ? 'include' : 'same-origin';
  const local = openStore('localStorage');
  const session = openStore('sessionStorage');
  const tab = session.get(TAB_KEY) || uuid();
  const outbox = createOutbox(endpoint, credentials, local, tab);
  let enabled = local.get(CONSENT_KEY) !== '0';
  let pageViewId = '';
  let lastPath = '';
  let lastHref = '';
  let referrer = document.referrer;

  function send(type: string, props: unknown): void {
    if (!enabled) return;
    const event: WireEvent = {
      id: uuid(),
      type,
      ts: Date.now(),
      props: isProps(props) ? props : {},
      pageViewId,
      url: location.href,
    };
    if (referrer) event.referrer = referrer;
    outbox.add(event);
  }

  /** A page view when the path or query changed (not the hash), or always when `force`d (`beacon('page')`). */
  function pageview(force?: boolean, props?: unknown): void {
    const path = location.pathname + location.search;
    if (!force && path === lastPath) return;
    if (lastHref && lastHref !== location.href) referrer = lastHref;
    lastPath = path;
    lastHref = location.href;
    pageViewId = uuid();
    send('pageview', props);
  }

  function consent(granted: boolean): void {
    if (granted === enabled) return;
    enabled = granted;
    if (granted) {
      local.remove(CONSENT_KEY);
      session.set(TAB_KEY, tab);
      outbox.resume();
      pageview(true);
      return;
    }
    local.set(CONSENT_KEY, '0');
    session.remove(TAB_KEY);
    outbox.clear();
    // The ids live in HttpOnly cookies of the collector; only its answer can delete them.
    fetch(`${endpoint}/batch?forget=1`, { method: 'POST', body: '[]', credentials, keepalive: true }).catch(
      () => undefined,
    );
  }

  function run(args: ArrayLike<unknown>): void {
    const [command, a, b] = Array.prototype.slice.call(args) as unknown[];
    if (command === 'track') {
      if (typeof a === 'string') send(a, b);
    } else if (command === 'page') {
      pageview(true, a);
    } else if (command === 'identify') {
      if (typeof a === 'string') send('identify', { userId: a, traits: isProps(b) ? b : {} });
    } else if (command === 'consent') {
      consent(a === true);
    } else {
      console.warn('beacon: unknown command', command);
    }
  }

  const api: BeaconFunction = function () {
    // eslint-disable-next-line prefer-rest-params
    run(arguments);
  };
  api.loaded = true;
  page.beacon = api;

  // Consent first, so a page that withdrew it in the snippet sends not even its page view.
  const isConsent = (args: ArrayLike<unknown>) => args[0] === 'consent';
  queued.filter(isConsent).forEach(run);
  if (enabled) {
    session.set(TAB_KEY, tab);
    outbox.adopt();
  } else {
    outbox.clear();
  }
  pageview();
  queued.filter((args) => !isConsent(args)).forEach(run);

  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      original.apply(this, args);
      pageview();
    };
  }
  addEventListener('popstate', () => pageview());
  // Hidden is not gone (a tab switch): send by fetch, whose answer is checked. Only pagehide
  // hands the rest to sendBeacon.
  addEventListener('pagehide', outbox.unload);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') outbox.hide();
  });
  addEventListener('online', outbox.online);
}

function isProps(value: unknown): value is Props {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
