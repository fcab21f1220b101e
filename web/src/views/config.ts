import { ApiError, type BeaconApi } from '../api.js';
import { h, replace, setText } from '../dom.js';
import { bytes, duration } from '../format.js';
import type { StatusPoller } from '../statusPoller.js';
import type { View } from './view.js';

/** Config: the running configuration as Beacon serves it (secrets replaced by ***), and the version. */
export function createConfigView(api: BeaconApi, poller: StatusPoller): View {
  const facts = h('dl', { class: 'facts wide' });
  const note = h('p', { class: 'muted' });
  const pre = h('pre', { class: 'json config-json' });
  const element = h(
    'section',
    { class: 'view config-view', id: 'view-config' },
    facts,
    h('h2', {}, 'Running configuration'),
    h(
      'p',
      { class: 'lead' },
      'Defaults filled in; passwords, tokens and credentials in URLs are shown as ***. Change it in the config file (or BEACON_ environment variables) and restart Beacon.',
    ),
    note,
    pre,
  );

  poller.subscribe((u) => {
    if (!u.ok) return;
    const s = u.status;
    replace(
      facts,
      h('dt', {}, 'Version'),
      h('dd', {}, s.version),
      h('dt', {}, 'Up for'),
      h('dd', {}, duration(s.uptimeSeconds)),
      h('dt', {}, 'Log'),
      h('dd', {}, `${bytes(s.log.bytes)} of ${bytes(s.log.maxBytes)} (${(s.log.ratio * 100).toFixed(1)} %)`),
      h('dt', {}, 'Destinations'),
      h('dd', {}, s.sinks.map((x) => `${x.name} (${x.type})`).join(', ') || 'none'),
    );
  });

  async function load(): Promise<void> {
    try {
      const config = await api.get('/api/v1/config', { admin: true });
      setText(pre, JSON.stringify(config, null, 2));
      setText(note, '');
      pre.hidden = false;
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'SHAPE', (err as Error).message);
      pre.hidden = true;
      setText(
        note,
        e.code === 'BEACON_E_FORBIDDEN'
          ? 'The configuration needs an admin token; this one can only read.'
          : `Configuration unavailable: ${e.message}`,
      );
    }
  }

  return {
    id: 'config',
    title: 'Config',
    element,
    show() {
      void load();
    },
    hide() {},
  };
}
