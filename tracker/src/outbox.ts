import { retryDelay } from './backoff.js';
import { checksum } from './checksum.js';
import type { Store } from './storage.js';
import { utf8Length } from './utf8.js';

/** One event as POST /batch takes it (docs/http-api.md); `ts` is the client time. */
export interface WireEvent {
  id: string;
  type: string;
  ts: number;
  props: Record<string, unknown>;
  pageViewId: string;
  url: string;
  referrer?: string;
}

export interface Outbox {
  add(event: WireEvent): void;
  /** Takes over events left in storage by earlier pages of this tab and by tabs gone quiet, and sends. */
  adopt(): void;
  /** The tab was hidden (the page lives on, maybe not for long): send what waits now, by fetch. */
  hide(): void;
  /** The page is going away (`pagehide`): hand what is not in flight to sendBeacon, keeping it stored. */
  unload(): void;
  /** Back online: retry now instead of waiting out the back-off. */
  online(): void;
  /** Consent withdrawn: forget every stored event, stop sending. */
  clear(): void;
  resume(): void;
}

/** Storage keys of queued events: one per tab, so tabs never overwrite each other's queue. */
const PREFIX = 'beacon_q.';
const BATCH_EVENTS = 20;
/** UTF-8 bytes: below the 64 KiB that keepalive fetches and sendBeacon may carry. */
export const BATCH_BYTES = 60_000;
const FLUSH_MS = 1000;
/** Past this many unsent events the oldest are dropped, so a long offline spell cannot fill the storage quota. */
const MAX_QUEUED = 1000;
/** Another tab's queue untouched this long belongs to a tab that is gone (or offline): take it over. */
const ADOPT_AFTER_MS = 30_000;
/** sendBeacon gets no answer: events it took stay stored and are resent this long after, unless acknowledged meanwhile. */
const BEACON_GRACE_MS = 60_000;
/**
 * ... but not later than this: the resend is safe only while the collector's id memory still
 * knows the ids (`enrich.duplicates.ids.ttl`, 24 h by default); older beaconed events are dropped.
 */
const BEACON_RESEND_WITHIN_MS = 12 * 3600_000;
/**
 * A request unanswered this long is abandoned and retried with back-off (the same ids, so the
 * collector drops a copy it already stored). A connection can hang with no error: one a
 * collector process took over as it died, a proxy that lost its upstream.
 */
const REQUEST_TIMEOUT_MS = 30_000;

interface Saved {
  t: number;
  e: WireEvent[];
  /** When sendBeacon took (or a request outliving the page carried) an event: its id → ms. */
  b?: Record<string, number>;
}

/**
 * The next batch from `queue`: in order, leaving out the events `skip` names, at most
 * BATCH_EVENTS events and BATCH_BYTES bytes of UTF-8 JSON (one event over that goes alone).
 */
export function nextBatch(queue: WireEvent[], skip: (event: WireEvent) => unknown): WireEvent[] {
  const batch: WireEvent[] = [];
  let bytes = 2;
  for (const event of queue) {
    if (skip(event)) continue;
    const size = utf8Length(JSON.stringify(event)) + 1;
    if (batch.length > 0 && (batch.length >= BATCH_EVENTS || bytes + size > BATCH_BYTES)) break;
    batch.push(event);
    bytes += size;
  }
  return batch;
}

/**
 * The tracker's queue. Every event is written to localStorage as soon as it is added and
 * removed only once the collector answered (2xx, or a 4xx that a retry cannot fix), so events
 * survive offline spells, reloads and crashes. Sending: batches on a 1 s timer (at once when a
 * batch is full or the tab is hidden), a POST /batch carrying `cs`, retried with exponential
 * back-off on network errors, 5xx, 408 and 429, paused while the browser is offline. On
 * `pagehide` sendBeacon carries what is left; those events stay stored, marked, and are resent
 * BEACON_GRACE_MS later by whichever page holds the queue then (sendBeacon tells nothing of the
 * answer). A resend carries the same event ids and `resend=1`: the collector's id memory drops
 * those it already holds.
 */
export function createOutbox(endpoint: string, credentials: RequestCredentials, store: Store, tab: string): Outbox {
  const key = PREFIX + tab;
  let queue: WireEvent[] = [];
  let beaconed: Record<string, number> = {};
  const sending = new Set<string>();
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  function save(): void {
    // Keeps the marks of the events still queued only.
    const marks: Record<string, number> = {};
    for (const event of queue) if (beaconed[event.id]) marks[event.id] = beaconed[event.id]!;
    beaconed = marks;
    if (queue.length > 0) store.set(key, JSON.stringify({ t: Date.now(), e: queue, b: marks } satisfies Saved));
    else store.remove(key);
  }

  function schedule(ms: number): void {
    if (stopped || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      flush();
    }, ms);
  }

  function reschedule(ms: number): void {
    clearTimeout(timer);
    timer = undefined;
    schedule(ms);
  }

  /** The next batch of events neither in flight nor beaconed less than BEACON_GRACE_MS ago. */
  function take(): WireEvent[] {
    const now = Date.now();
    return nextBatch(queue, (event) => sending.has(event.id) || now - (beaconed[event.id] || 0) < BEACON_GRACE_MS);
  }

  /** Sends beaconed events once their grace is over (the timer waits for a back-off already running). */
  function afterGrace(): void {
    if (Object.keys(beaconed).length > 0) setTimeout(() => schedule(0), BEACON_GRACE_MS);
  }

  function remove(batch: WireEvent[]): void {
    const ids = new Set(batch.map((e) => e.id));
    queue = queue.filter((e) => !ids.has(e.id));
  }

  /**
   * A batch holding beaconed events is a blind resend (`resend=1`): the collector drops those
   * of its events it already holds, instead of storing them flagged as duplicates.
   */
  function url(body: string, batch: WireEvent[]): string {
    return `${endpoint}/batch?cs=${checksum(body)}${batch.some((e) => beaconed[e.id]) ? '&resend=1' : ''}`;
  }

  /** Sends one batch; false when there was none to send. */
  function flush(): boolean {
    if (stopped || navigator.onLine === false) return false;
    const batch = take();
    if (batch.length === 0) return false;
    const body = JSON.stringify(batch);
    for (const event of batch) sending.add(event.id);
    const settle = (done: boolean, retryAfterMs = 0) => {
      for (const event of batch) sending.delete(event.id);
      if (stopped) return;
      if (done) {
        failures = 0;
        remove(batch);
        save();
        if (take().length > 0) schedule(0);
      } else {
        failures++;
        reschedule(retryDelay(failures, retryAfterMs));
      }
    };
    // A string body goes as text/plain: a "simple" request, so no CORS preflight. keepalive (the
    // request outlives the page) only within its 64 KiB quota, in bytes; the browser rejects a
    // keepalive fetch over the quota (which it counts over all of the page's keepalive requests
    // in flight) with a TypeError, as it does a network error: try such a request once more
    // without keepalive before counting it as failed.
    const post = (keepalive: boolean): Promise<Response> => {
      const abort = typeof AbortController === 'function' ? new AbortController() : undefined;
      const timer = abort && setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
      return fetch(url(body, batch), { method: 'POST', body, credentials, keepalive, signal: abort?.signal }).then(
        (answer) => {
          clearTimeout(timer);
          return answer;
        },
        (error: unknown) => {
          clearTimeout(timer);
          // An abort is a DOMException, not a TypeError: a timed-out request is not tried again at once.
          if (keepalive && error instanceof TypeError) return post(false);
          throw error;
        },
      );
    };
    post(utf8Length(body) < BATCH_BYTES).then(
      (answer) => {
        const status = answer.status;
        // 2xx: stored (events the answer lists as rejected are refused for good); other 4xx: a retry would be refused the same.
        if (status < 500 && status !== 408 && status !== 429) return settle(true);
        settle(false, Number(answer.headers.get('Retry-After')) * 1000 || 0);
      },
      () => settle(false),
    );
    return true;
  }

  function adopt(): void {
    const now = Date.now();
    const known = new Set(queue.map((e) => e.id));
    for (const other of store.keys()) {
      if (other.indexOf(PREFIX) !== 0 || (other === key && queue.length > 0)) continue;
      let saved: Saved | undefined;
      try {
        saved = JSON.parse(store.get(other) ?? '') as Saved;
      } catch {
        saved = undefined;
      }
      if (other !== key && saved && now - saved.t < ADOPT_AFTER_MS) continue;
      const marks = saved?.b || {};
      for (const event of saved?.e ?? []) {
        const mark = marks[event.id];
        // Beaconed so long ago that the collector may have forgotten the id: a resend could be stored twice.
        if (known.has(event.id) || (mark && now - mark > BEACON_RESEND_WITHIN_MS)) continue;
        queue.push(event);
        known.add(event.id);
        if (mark) beaconed[event.id] = mark;
      }
      if (other !== key) store.remove(other);
    }
    trim();
    save();
    schedule(0);
    afterGrace();
  }

  function trim(): void {
    if (queue.length > MAX_QUEUED) queue.splice(0, queue.length - MAX_QUEUED);
  }

  return {
    add(event) {
      if (stopped) return;
      queue.push(event);
      trim();
      save();
      if (failures === 0 && take().length >= BATCH_EVENTS) reschedule(0);
      else schedule(FLUSH_MS);
    },
    adopt,
    hide() {
      // Not during a back-off: the events are stored, and its timer retries them.
      if (failures > 0) return;
      clearTimeout(timer);
      timer = undefined;
      while (flush());
    },
    unload() {
      if (stopped) return;
      const now = Date.now();
      // Requests in flight outlive the page (keepalive) but their answer will find no page: resend after the grace too.
      for (const id of sending) beaconed[id] = now;
      if (navigator.onLine !== false && navigator.sendBeacon) {
        for (let batch = take(); batch.length > 0; batch = take()) {
          const body = JSON.stringify(batch);
          // Accepted: the browser sends it after the page is gone, with no answer to anyone, so
          // the events stay stored, marked, for a resend after the grace. Refused (over its
          // quota): the rest stays stored, unmarked, for the next page to send at once.
          if (!navigator.sendBeacon(url(body, batch), body)) break;
          for (const event of batch) beaconed[event.id] = now;
        }
      }
      save();
      // The page may come back (back/forward cache) and live on.
      afterGrace();
    },
    online() {
      failures = 0;
      adopt();
      reschedule(0);
    },
    clear() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      queue = [];
      beaconed = {};
      sending.clear();
      for (const other of store.keys()) if (other.indexOf(PREFIX) === 0) store.remove(other);
    },
    resume() {
      stopped = false;
    },
  };
}
