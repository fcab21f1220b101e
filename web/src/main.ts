import { BeaconApi, type Access } from './api.js';
import { h, setText } from './dom.js';
import { bytes } from './format.js';
import { FailureTracker, overall } from './sinkHealth.js';
import { StatusPoller } from './statusPoller.js';
import { createTokenDialog } from './tokenDialog.js';
import { createConfigView } from './views/config.js';
import { createDestinationsView } from './views/destinations.js';
import { createLiveView } from './views/live.js';
import { createThroughputView } from './views/throughput.js';
import type { View } from './views/view.js';

/**
 * The page: a header (version, overall state, log usage, access), a nav between the four
 * views (the URL hash keeps the choice), and the views themselves. Only the visible view runs
 * its stream or timers; the status poll runs always because the header needs it.
 */
function start(root: HTMLElement): void {
  const api = new BeaconApi();
  const poller = new StatusPoller(api);
  const tracker = new FailureTracker();

  const version = h('span', { class: 'version' });
  const state = h('span', { class: 'overall', role: 'status', 'data-tone': 'muted' }, 'connecting…');
  const logUsage = h('span', { class: 'log-usage muted' });
  const access = h('span', { class: 'access' });
  const signOut = h('button', { type: 'button', class: 'link', hidden: true }, 'forget token');
  const nav = h('nav', { 'aria-label': 'Views' });
  const main = h('main', {});
  root.replaceChildren(
    h(
      'header',
      { class: 'top' },
      h(
        'div',
        { class: 'brand' },
        h('span', { class: 'logo', 'aria-hidden': 'true' }),
        h('span', { class: 'name' }, 'Beacon'),
        version,
      ),
      nav,
      h('div', { class: 'top-right' }, state, logUsage, access, signOut),
    ),
    main,
  );

  const views: View[] = [
    createLiveView(api),
    createDestinationsView(api, poller, tracker),
    createThroughputView(api),
    createConfigView(api, poller),
  ];
  const links = new Map<string, HTMLAnchorElement>();
  let current: View | undefined;
  for (const v of views) {
    v.element.hidden = true;
    main.append(v.element);
    const a = h('a', { href: `#${v.id}`, 'data-view': v.id }, v.title);
    links.set(v.id, a);
    nav.append(a);
  }
  const destinationsLink = links.get('destinations')!;
  const problemBadge = h('span', { class: 'badge', hidden: true });
  destinationsLink.append(problemBadge);

  function route(): void {
    const id = location.hash.slice(1);
    const next = views.find((v) => v.id === id) ?? views[0]!;
    if (next === current) return;
    current?.hide();
    if (current) current.element.hidden = true;
    current = next;
    next.element.hidden = false;
    for (const [vid, a] of links) a.setAttribute('aria-current', vid === next.id ? 'page' : 'false');
    document.title = `${next.title} · Beacon`;
    next.show();
  }
  window.addEventListener('hashchange', route);

  const dialog = createTokenDialog(api, () => {
    // The new token may see more: ask again everywhere, and reopen the stream with it.
    void poller.refresh();
    void probeAccess();
    if (current) {
      current.hide();
      current.show();
    }
    renderAccess(api.access);
  });
  document.body.append(dialog.element);
  api.onAuthNeeded((reason) => dialog.open(reason));

  function renderAccess(a: Access): void {
    const token = api.token !== null;
    signOut.hidden = !token;
    setText(
      access,
      a === 'admin' ? (token ? 'admin token' : 'open access') : a === 'read' ? 'read-only token' : token ? 'token' : '',
    );
    access.dataset.access = a;
  }
  api.onAccess(renderAccess);
  signOut.addEventListener('click', () => {
    api.setToken(null);
    renderAccess(api.access);
    void poller.refresh();
  });

  /** Config is admin-only, so its answer tells whether Replay may be offered. */
  async function probeAccess(): Promise<void> {
    try {
      await api.get('/api/v1/config', { admin: true });
    } catch {
      // 401 opens the dialog, 403 marks the token read-only; both handled in BeaconApi.
    }
  }

  let probing = false;
  poller.subscribe((u) => {
    if (!u.ok) {
      setText(
        state,
        u.error.status === 401
          ? 'needs a token'
          : u.error.status === 0
            ? 'Beacon unreachable'
            : `status error ${u.error.status}`,
      );
      state.dataset.tone = 'bad';
      return;
    }
    const s = u.status;
    tracker.update(s.sinks, u.at);
    setText(version, `v${s.version}`);
    const o = overall(s.sinks, tracker, u.at);
    setText(state, o.text);
    state.dataset.tone = o.tone;
    setText(logUsage, `log ${bytes(s.log.bytes)} of ${bytes(s.log.maxBytes)}`);
    problemBadge.hidden = o.problems === 0;
    problemBadge.dataset.tone = o.tone;
    setText(problemBadge, String(o.problems));
    if (api.access === 'unknown' && !probing) {
      probing = true;
      void probeAccess().finally(() => (probing = false));
    }
  });

  renderAccess(api.access);
  poller.start();
  route();
}

const root = document.getElementById('app');
if (root) start(root);
