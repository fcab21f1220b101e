import type { BeaconApi } from '../api.js';
import { h, setText } from '../dom.js';
import { count } from '../format.js';
import { FilterSyntaxError, filterQuery, parseFilterBox } from '../liveFilter.js';
import { parseLiveMessage } from '../parse.js';
import { createEventDetail } from './eventDetail.js';
import { EventList, type LiveItem } from './eventList.js';
import type { View } from './view.js';

/** Rows kept in the list; older ones are removed as new ones arrive. */
export const MAX_ROWS = 500;
/**
 * At most this many list updates a second. A person cannot read rows that move faster, and
 * each update costs a layout and a repaint of the visible rows however many events it adds,
 * so at 1,000 events/s ten larger updates cost a sixth of sixty small ones.
 */
const DRAWS_PER_SECOND = 10;
/** WebSocket close codes from docs/live.md: a bad query, and refusals of the token (4000 + HTTP status). */
const CLOSE_BAD_QUERY = 1008;
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;
const RECONNECT_MS = [1000, 2000, 5000, 10_000];

type Item = LiveItem;

/**
 * Live: events as they become durable, newest on top.
 *
 * It stays smooth at thousands of events a second because a message only parses and queues;
 * the list is updated in an animation frame at most DRAWS_PER_SECOND times a second, and it
 * is a virtual list (eventList.ts): only the rows in view exist in the DOM. Nothing grows
 * with time: the list keeps MAX_ROWS events, and the queue is cut to MAX_ROWS when frames
 * do not run (tab in the background) or the list is paused.
 */
export function createLiveView(api: BeaconApi): View {
  const filterInput = h('input', {
    type: 'search',
    class: 'filter',
    placeholder: 'Filter: event types and prop=value, e.g.  pageview signup plan=pro bot:false',
    'aria-label': 'Filter events',
    spellcheck: 'false',
  });
  const rateSelect = h(
    'select',
    { 'aria-label': 'Most events per second' },
    h('option', { value: '' }, 'every event'),
    h('option', { value: '100' }, 'at most 100/s'),
    h('option', { value: '10' }, 'at most 10/s'),
  );
  const pauseButton = h('button', { type: 'button', class: 'pause' }, 'Pause');
  const clearButton = h('button', { type: 'button' }, 'Clear');
  const connection = h('span', { class: 'conn', role: 'status' });
  const counters = h('span', { class: 'counters muted' });
  const filterError = h('div', { class: 'filter-error', role: 'alert' });
  const emptyNote = h(
    'p',
    { class: 'muted empty-note' },
    'Waiting for events. Send one with:  curl -d \'{"plan":"pro"}\' ' + `${location.origin}/t/signup`,
  );
  const detail = createEventDetail();
  const list = new EventList(MAX_ROWS, (e) => detail.show(e));

  const element = h(
    'section',
    { class: 'view live-view', id: 'view-live' },
    h('div', { class: 'toolbar' }, filterInput, rateSelect, pauseButton, clearButton),
    filterError,
    h('div', { class: 'statusbar' }, connection, counters),
    h('div', { class: 'live-split' }, h('div', { class: 'events-wrap' }, emptyNote, list.element), detail.element),
  );

  let queue: Item[] = [];
  let frame: number | undefined;
  let drawnAt = -Infinity;
  let paused = false;
  let missedWhilePaused = 0;
  let ws: WebSocket | undefined;
  let visible = false;
  let following = false;
  let attempt = 0;
  let retryTimer: number | undefined;
  let query = new URLSearchParams();
  let received = 0;
  let lastSecond = 0;
  let perSecond = 0;
  let rateTimer: number | undefined;

  function setConnection(text: string, tone: 'ok' | 'warn' | 'bad' | 'muted'): void {
    setText(connection, text);
    connection.dataset.tone = tone;
  }

  function connect(): void {
    disconnect();
    following = false;
    setConnection('connecting…', 'muted');
    const socket = new WebSocket(api.liveUrl(query));
    ws = socket;
    socket.onmessage = (m) => {
      if (ws !== socket || typeof m.data !== 'string') return;
      const msg = parseLiveMessage(m.data);
      if (msg.kind === 'ready') {
        following = true;
        attempt = 0;
        setConnection('following: new events appear as they are stored', 'ok');
      } else if (msg.kind === 'event') {
        received++;
        enqueue({ kind: 'event', event: msg.event });
      } else if (msg.kind === 'dropped') {
        enqueue({ kind: 'dropped', count: msg.count });
      }
    };
    socket.onclose = (e) => {
      if (ws !== socket) return;
      ws = undefined;
      following = false;
      if (e.code === CLOSE_BAD_QUERY) {
        setConnection(`Beacon did not accept the filter: ${e.reason || 'bad query'}`, 'bad');
        return;
      }
      if (e.code === CLOSE_UNAUTHORIZED) {
        setConnection('the live stream needs a token', 'bad');
        api.tokenRefused(e.reason || 'the live stream needs a token');
        return;
      }
      if (e.code === CLOSE_FORBIDDEN) {
        setConnection(
          /BEACON_E_FORBIDDEN/.test(e.reason)
            ? `this token may not watch the live stream: ${e.reason}`
            : `the live stream is refused: ${e.reason}`,
          'bad',
        );
        return;
      }
      if (!visible) return;
      const wait = RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)]!;
      attempt++;
      const why = e.reason || (e.code === 1006 ? 'connection lost' : `closed (${e.code})`);
      setConnection(`disconnected: ${why}; reconnecting in ${wait / 1000} s`, 'warn');
      retryTimer = window.setTimeout(connect, wait);
    };
  }

  function disconnect(): void {
    window.clearTimeout(retryTimer);
    retryTimer = undefined;
    const socket = ws;
    ws = undefined;
    socket?.close(1000, 'page left the live view');
  }

  function enqueue(item: Item): void {
    queue.push(item);
    // Frames may not run (background tab) or the list may be paused: only the newest
    // MAX_ROWS can ever be shown, so keep no more than twice that.
    if (queue.length > 2 * MAX_ROWS) {
      const cut = queue.length - MAX_ROWS;
      if (paused) missedWhilePaused += countEvents(queue.slice(0, cut));
      queue = queue.slice(cut);
    }
    if (!paused) schedule();
  }

  function schedule(): void {
    frame ??= requestAnimationFrame(draw);
  }

  function draw(now: number): void {
    frame = undefined;
    if (paused || queue.length === 0) return;
    if (now - drawnAt < 1000 / DRAWS_PER_SECOND) {
      schedule();
      return;
    }
    drawnAt = now;
    const items = queue;
    queue = [];
    list.add(items);
    emptyNote.hidden = true;
    updateCounters();
  }

  function setPaused(p: boolean): void {
    paused = p;
    pauseButton.textContent = p ? 'Resume' : 'Pause';
    pauseButton.classList.toggle('active', p);
    if (!p) {
      missedWhilePaused = 0;
      schedule();
    }
    updateCounters();
  }

  pauseButton.addEventListener('click', () => setPaused(!paused));
  clearButton.addEventListener('click', () => {
    list.clear();
    queue = [];
    detail.show(undefined);
    emptyNote.hidden = false;
  });

  function applyFilter(): void {
    let next: URLSearchParams;
    try {
      next = filterQuery(parseFilterBox(filterInput.value));
    } catch (err) {
      if (!(err instanceof FilterSyntaxError)) throw err;
      setText(filterError, err.message);
      return;
    }
    setText(filterError, '');
    if (rateSelect.value) next.set('maxRate', rateSelect.value);
    if (next.toString() === query.toString() && (ws || retryTimer !== undefined)) return;
    query = next;
    if (visible) connect();
  }
  filterInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') applyFilter();
  });
  filterInput.addEventListener('search', applyFilter);
  filterInput.addEventListener('change', applyFilter);
  rateSelect.addEventListener('change', applyFilter);

  function updateCounters(): void {
    let text = `${count(perSecond)} events/s · ${count(received)} since opened · keeping the newest ${count(list.size)}`;
    if (paused) text = `paused: ${count(countEvents(queue) + missedWhilePaused)} new events not shown · ${text}`;
    setText(counters, text);
  }

  return {
    id: 'live',
    title: 'Live',
    element,
    show() {
      visible = true;
      if (!ws && !following) connect();
      lastSecond = received;
      rateTimer = window.setInterval(() => {
        perSecond = received - lastSecond;
        lastSecond = received;
        updateCounters();
      }, 1000);
      updateCounters();
    },
    hide() {
      visible = false;
      window.clearInterval(rateTimer);
      disconnect();
      following = false;
      setConnection('not connected while this view is hidden', 'muted');
    },
  };
}

function countEvents(items: readonly Item[]): number {
  let n = 0;
  for (const i of items) if (i.kind === 'event') n++;
  return n;
}
