import type { BeaconApi } from '../api.js';
import { h, replace, setText } from '../dom.js';
import { ago, count, duration, rate } from '../format.js';
import { parseWaitingDeadLetters, type SinkView } from '../parse.js';
import { describeSink, type FailureTracker } from '../sinkHealth.js';
import type { StatusPoller, StatusUpdate } from '../statusPoller.js';
import { createDeadLetterPanel } from './deadLetters.js';
import type { View } from './view.js';

interface Card {
  root: HTMLElement;
  state: HTMLElement;
  detail: HTMLElement;
  lag: HTMLElement;
  rate: HTMLElement;
  delivered: HTMLElement;
  deadLettered: HTMLElement;
  lastError: HTMLElement;
  dlqButton: HTMLButtonElement;
  /** For the rate: delivered count at the previous answer. */
  prev?: { delivered: number; at: number };
  rateValue: number;
}

/**
 * Destinations: one card per sink, updated from each status answer (once a second). Cards are
 * built once and only their texts change, so a refresh does not move focus or scroll.
 */
export function createDestinationsView(api: BeaconApi, poller: StatusPoller, tracker: FailureTracker): View {
  const grid = h('div', { class: 'cards' });
  const note = h('p', { class: 'muted' });
  const dlq = createDeadLetterPanel(api, () => {
    void poller.refresh();
    void loadWaiting();
  });
  const element = h(
    'section',
    { class: 'view destinations-view', id: 'view-destinations' },
    h(
      'p',
      { class: 'lead' },
      'Every destination (sink) reads the log on its own: one that is down never holds up the others, and nothing is lost while it is down.',
    ),
    note,
    grid,
    dlq.element,
  );
  const cards = new Map<string, Card>();
  /** Entries waiting in each dead letter now, from GET /api/v1/sinks while the view is shown. */
  let waiting = new Map<string, number>();
  let waitingTimer: number | undefined;
  let last: StatusUpdate | undefined;

  async function loadWaiting(): Promise<void> {
    try {
      waiting = parseWaitingDeadLetters(await api.get('/api/v1/sinks'));
      if (last) render(last);
    } catch {
      // The status poll reports what is wrong; the buttons then show no waiting count.
    }
  }

  function card(s: SinkView): Card {
    const existing = cards.get(s.name);
    if (existing) return existing;
    const stat = (label: string, value: HTMLElement, hint: string) =>
      h('div', { class: 'stat', title: hint }, h('span', { class: 'stat-label' }, label), value);
    const c: Card = {
      root: h('article', { class: 'card', 'data-sink': s.name }),
      state: h('span', { class: 'state' }),
      detail: h('span', { class: 'state-detail' }),
      lag: h('span', { class: 'stat-value' }),
      rate: h('span', { class: 'stat-value' }),
      delivered: h('span', { class: 'stat-value' }),
      deadLettered: h('span', { class: 'stat-value' }),
      lastError: h('p', { class: 'last-error' }),
      dlqButton: h('button', { type: 'button', class: 'small' }, 'Dead letters'),
      rateValue: 0,
    };
    c.dlqButton.addEventListener('click', () => dlq.open(s.name));
    replace(
      c.root,
      h('header', {}, h('div', {}, h('h2', {}, s.name), h('span', { class: 'sink-type' }, s.type)), c.state),
      c.detail,
      h(
        'div',
        { class: 'stats' },
        stat(
          'Lag',
          c.lag,
          'Events stored in the log that this destination has not received yet, and the age of the oldest',
        ),
        stat('Rate', c.rate, 'Events delivered per second, over the last refresh'),
        stat('Delivered', c.delivered, 'Events this destination acknowledged since Beacon started'),
        stat(
          'Dead-lettered',
          c.deadLettered,
          'Events this destination refused for good since Beacon started; they wait in its dead letter for a replay',
        ),
      ),
      c.lastError,
      h('footer', {}, c.dlqButton),
    );
    cards.set(s.name, c);
    grid.append(c.root);
    return c;
  }

  function render(u: StatusUpdate): void {
    last = u;
    if (!u.ok) {
      setText(note, u.error.status === 401 ? 'Waiting for a token…' : `Status unavailable: ${u.error.message}`);
      return;
    }
    const { sinks } = u.status;
    setText(
      note,
      sinks.length === 0
        ? 'No destinations are configured: events are kept in the log only. Add one under `sinks:` in the config.'
        : '',
    );
    for (const s of sinks) {
      const c = card(s);
      const health = describeSink(s, tracker.failingSince(s.name), u.at);
      setText(c.state, health.label);
      c.state.dataset.tone = health.tone;
      c.root.dataset.tone = health.tone;
      c.root.dataset.state = s.state;
      setText(c.detail, health.detail);
      setText(c.lag, s.lagEvents === 0 ? '0' : `${count(s.lagEvents)} · ${duration(s.lagSeconds)}`);
      if (c.prev && u.at > c.prev.at)
        c.rateValue = Math.max(0, s.delivered - c.prev.delivered) / ((u.at - c.prev.at) / 1000);
      c.prev = { delivered: s.delivered, at: u.at };
      setText(c.rate, rate(c.rateValue));
      setText(c.delivered, count(s.delivered));
      setText(c.deadLettered, count(s.deadLettered));
      c.deadLettered.dataset.tone = s.deadLettered > 0 ? 'warn' : '';
      setText(
        c.lastError,
        s.lastError
          ? `Last error (${s.lastError.kind}${s.lastError.at !== undefined ? `, ${ago(s.lastError.at, u.at)}` : ''}): ${s.lastError.message}`
          : '',
      );
      c.lastError.hidden = !s.lastError;
      const w = waiting.get(s.name);
      setText(c.dlqButton, w ? `Dead letters (${count(w)} waiting)` : 'Dead letters');
      c.dlqButton.classList.toggle('attention', (w ?? 0) > 0);
    }
    for (const [name, c] of cards) {
      if (!sinks.some((s) => s.name === name)) {
        c.root.remove();
        cards.delete(name);
      }
    }
    dlq.statusChanged(sinks);
  }

  poller.subscribe(render);

  return {
    id: 'destinations',
    title: 'Destinations',
    element,
    show() {
      void loadWaiting();
      waitingTimer = window.setInterval(() => void loadWaiting(), 2000);
    },
    hide() {
      window.clearInterval(waitingTimer);
    },
  };
}
