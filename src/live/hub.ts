import type { TrackedEvent } from '../event/trackedEvent.js';
import { matches, type ViewerFilter } from './viewerFilter.js';

/**
 * The live hub: one feed of durable events (an ephemeral log cursor, or the primary over IPC)
 * fanned out to WebSocket viewers.
 *
 * Promises it keeps:
 * 1. The feed never waits for a viewer. `events()` only filters, serialises (once per event)
 *    and queues; it never awaits a socket, so a slow viewer cannot slow the feed, the log or
 *    another viewer.
 * 2. Memory per viewer is bounded: its queue holds at most `viewerMaxEvents` events and
 *    `viewerMaxBytes` bytes, and the hub moves messages from the queue to the socket only
 *    while the socket's `bufferedAmount` is under `socketMaxBytes`. What does not fit is
 *    dropped, counted, and announced in order as `{"kind":"dropped","count":N}` before the
 *    next event the viewer does get (or on its own once the viewer catches up).
 * 3. A viewer that stays behind (socket backed up, or dropping) longer than `maxBehindMs` is
 *    closed with 1013 and a reason; it may reconnect.
 * 4. The feed runs only while at least one viewer is connected.
 */

/** The part of a WebSocket the hub uses (the `ws` socket, or a fake in tests). */
export interface LiveSocket {
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code: number, reason: string): void;
}

/** Where a feed hands what it reads. */
export interface FeedSink {
  /** The feed is live: events appended from now on will arrive. */
  ready(): void;
  events(batch: readonly TrackedEvent[]): void;
  /** Events the feed itself lost on the way (e.g. a backed-up IPC link); every viewer is told. */
  dropped(count: number): void;
}

export interface LiveFeed {
  start(sink: FeedSink): void;
  stop(): Promise<void>;
}

export interface LiveLimits {
  maxViewers: number;
  viewerMaxEvents: number;
  viewerMaxBytes: number;
  socketMaxBytes: number;
  maxBehindMs: number;
}

export interface LiveHubOptions {
  now?: () => number;
  /** How often backed-up viewers are retried and checked for `maxBehindMs`. */
  tickMs?: number;
  onViewers?: (count: number) => void;
  onDropped?: (count: number) => void;
}

/** WebSocket close code 1013, "try again later": the server shed this viewer. */
export const CLOSE_TRY_AGAIN_LATER = 1013;
export const CLOSE_GOING_AWAY = 1001;

export const READY_MESSAGE = '{"kind":"ready"}';

interface Viewer {
  socket: LiveSocket;
  filter: ViewerFilter;
  queue: string[];
  queueBytes: number;
  /** Dropped since the last message queued; announced before the next one. */
  dropped: number;
  behindSince: number | undefined;
  /** Matching events seen, for `sample`. */
  seen: number;
  tokens: number;
  refilledAt: number;
  ready: boolean;
  closed: boolean;
}

export type ViewerHandle = object;

export class LiveHub {
  private readonly viewers = new Set<Viewer>();
  private readonly now: () => number;
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;
  private feedReady = false;
  private feedRunning = false;
  private feedStopped: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly feed: LiveFeed,
    private readonly limits: LiveLimits,
    private readonly options: LiveHubOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.tickMs = options.tickMs ?? 100;
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Adds a viewer, or closes its socket with 1013 when `maxViewers` are already connected. */
  add(socket: LiveSocket, filter: ViewerFilter): ViewerHandle | undefined {
    if (this.closed) {
      socket.close(CLOSE_GOING_AWAY, 'Beacon is shutting down');
      return undefined;
    }
    if (this.viewers.size >= this.limits.maxViewers) {
      socket.close(CLOSE_TRY_AGAIN_LATER, `too many live viewers (live.maxViewers is ${this.limits.maxViewers})`);
      return undefined;
    }
    const viewer: Viewer = {
      socket,
      filter,
      queue: [],
      queueBytes: 0,
      dropped: 0,
      behindSince: undefined,
      seen: 0,
      tokens: filter.maxRate ?? 0,
      refilledAt: this.now(),
      ready: false,
      closed: false,
    };
    this.viewers.add(viewer);
    this.options.onViewers?.(this.viewers.size);
    if (this.feedReady) this.greet(viewer);
    if (!this.feedRunning) this.startFeed();
    this.timer ??= setInterval(() => this.tick(), this.tickMs).unref();
    return viewer;
  }

  /** Forgets a viewer (its socket closed). The feed stops with the last one. */
  remove(handle: ViewerHandle): void {
    const viewer = handle as Viewer;
    if (!this.viewers.delete(viewer)) return;
    viewer.closed = true;
    viewer.queue = [];
    viewer.queueBytes = 0;
    this.options.onViewers?.(this.viewers.size);
    if (this.viewers.size === 0) this.stopFeed();
  }

  /** Closes every viewer (1001) and stops the feed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const viewer of [...this.viewers]) {
      viewer.socket.close(CLOSE_GOING_AWAY, 'Beacon is shutting down');
      this.remove(viewer);
    }
    this.stopFeed();
    await this.feedStopped;
  }

  private startFeed(): void {
    this.feedRunning = true;
    this.feedReady = false;
    this.feed.start({
      ready: () => {
        if (!this.feedRunning) return;
        this.feedReady = true;
        for (const v of this.viewers) this.greet(v);
      },
      events: (batch) => this.onEvents(batch),
      dropped: (count) => {
        for (const v of this.viewers) this.drop(v, count, false);
        for (const v of this.viewers) this.flush(v);
      },
    });
  }

  private stopFeed(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.feedRunning) return;
    this.feedRunning = false;
    this.feedReady = false;
    const previous = this.feedStopped;
    const stopping = this.feed.stop();
    this.feedStopped = Promise.all([previous, stopping]).then(() => undefined);
  }

  private greet(viewer: Viewer): void {
    if (viewer.ready || viewer.closed) return;
    viewer.ready = true;
    viewer.socket.send(READY_MESSAGE);
  }

  private onEvents(batch: readonly TrackedEvent[]): void {
    if (this.viewers.size === 0) return;
    const now = this.now();
    for (const e of batch) {
      let message: string | undefined;
      for (const v of this.viewers) {
        if (!v.ready || !matches(v.filter, e) || !this.admit(v, now)) continue;
        message ??= `{"kind":"event","event":${JSON.stringify(e)}}`;
        this.offer(v, message, now);
      }
    }
    for (const v of this.viewers) this.flush(v);
  }

  /** Sampling and rate limit: skipped events are the viewer's choice, not drops. */
  private admit(v: Viewer, now: number): boolean {
    v.seen++;
    if (v.filter.sample > 1 && (v.seen - 1) % v.filter.sample !== 0) return false;
    const rate = v.filter.maxRate;
    if (rate !== undefined) {
      v.tokens = Math.min(rate, v.tokens + ((now - v.refilledAt) * rate) / 1000);
      v.refilledAt = now;
      if (v.tokens < 1) return false;
      v.tokens -= 1;
    }
    return true;
  }

  private offer(v: Viewer, message: string, now: number): void {
    // Straight through while the viewer keeps up, so a batch larger than the queue is no drop.
    if (v.queue.length === 0 && v.dropped === 0 && v.socket.bufferedAmount < this.limits.socketMaxBytes) {
      v.socket.send(message);
      return;
    }
    const bytes = message.length;
    if (v.queue.length >= this.limits.viewerMaxEvents || v.queueBytes + bytes > this.limits.viewerMaxBytes) {
      this.drop(v, 1, true, now);
      return;
    }
    if (v.dropped > 0) this.enqueueNotice(v);
    v.queue.push(message);
    v.queueBytes += bytes;
  }

  private drop(v: Viewer, count: number, behind: boolean, now = this.now()): void {
    v.dropped += count;
    if (behind) v.behindSince ??= now;
    this.options.onDropped?.(count);
  }

  /** The notice rides in the queue so it arrives exactly where the gap is. It is tiny and not counted against the bounds. */
  private enqueueNotice(v: Viewer): void {
    const notice = `{"kind":"dropped","count":${v.dropped}}`;
    v.dropped = 0;
    v.queue.push(notice);
    v.queueBytes += notice.length;
  }

  /** Moves queued messages to the socket while it has room; notes when it does not. */
  private flush(v: Viewer): void {
    if (v.closed) return;
    let sent = 0;
    while (v.socket.bufferedAmount < this.limits.socketMaxBytes) {
      if (sent === v.queue.length) {
        if (v.dropped === 0) break;
        this.enqueueNotice(v);
      }
      const message = v.queue[sent++]!;
      v.queueBytes -= message.length;
      v.socket.send(message);
    }
    if (sent > 0) v.queue = sent === v.queue.length ? [] : v.queue.slice(sent);
    if (v.queue.length === 0 && v.dropped === 0) v.behindSince = undefined;
    else v.behindSince ??= this.now();
  }

  private tick(): void {
    const now = this.now();
    for (const v of [...this.viewers]) {
      this.flush(v);
      if (v.behindSince !== undefined && now - v.behindSince > this.limits.maxBehindMs) {
        v.socket.close(
          CLOSE_TRY_AGAIN_LATER,
          `viewer stayed behind for more than ${this.limits.maxBehindMs} ms; events were dropped`,
        );
        this.remove(v);
      }
    }
  }

  /** For tests: runs one tick now. */
  tickNow(): void {
    this.tick();
  }
}
