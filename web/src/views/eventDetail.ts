import { h, replace } from '../dom.js';
import { clockMs } from '../format.js';
import type { LiveEvent } from '../parse.js';

const TOP_FIELDS = [
  'id',
  'type',
  'partyId',
  'sessionId',
  'pageViewId',
  'ip',
  'url',
  'referrer',
  'ua',
  'clientTs',
] as const;

/** The panel beside the live list: one event in full, props and enrichment (meta) apart. */
export function createEventDetail(): { element: HTMLElement; show(e: LiveEvent | undefined): void } {
  const body = h('div', { class: 'detail-body' });
  const element = h('aside', { class: 'detail', 'aria-label': 'Event details' }, body);
  const empty = () =>
    replace(
      body,
      h(
        'p',
        { class: 'muted detail-empty' },
        'Click an event to see all of it: its props, what enrichment added (meta) and the raw JSON.',
      ),
    );
  empty();

  function section(title: string, value: unknown) {
    return h('section', {}, h('h3', {}, title), h('pre', { class: 'json' }, JSON.stringify(value, null, 2)));
  }

  return {
    element,
    show(e) {
      if (!e) return empty();
      const facts = h('dl', { class: 'facts' });
      facts.append(h('dt', {}, 'received'), h('dd', {}, `${new Date(e.ts).toLocaleDateString()} ${clockMs(e.ts)}`));
      for (const f of TOP_FIELDS) {
        const v = e.raw[f];
        if (v === undefined) continue;
        facts.append(
          h('dt', {}, f),
          h('dd', {}, f === 'clientTs' && typeof v === 'number' ? `${clockMs(v)} (client clock)` : String(v)),
        );
      }
      const copy = h('button', { type: 'button', class: 'small' }, 'Copy JSON');
      copy.addEventListener('click', () => {
        void navigator.clipboard?.writeText(JSON.stringify(e.raw, null, 2)).then(
          () => (copy.textContent = 'Copied'),
          () => (copy.textContent = 'Copy failed'),
        );
      });
      replace(
        body,
        h('header', { class: 'detail-head' }, h('h2', {}, e.type), copy),
        facts,
        section('Props', e.props),
        section('Enrichment (meta)', e.meta),
        h('details', {}, h('summary', {}, 'Raw JSON'), h('pre', { class: 'json' }, JSON.stringify(e.raw, null, 2))),
      );
    },
  };
}
