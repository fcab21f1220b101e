import type { TrackedEvent } from '../event/trackedEvent.js';
import type { FeedSink, LiveFeed } from './hub.js';

/**
 * The live stream across processes. In the multi-process mode the primary owns the log
 * reader, so it runs the one log feed and streams batches to each collector that has viewers;
 * each collector runs its own hub (per-viewer filters, bounds and drop rules) over them.
 *
 * The link is bounded both ways: a collector with no viewers is not subscribed and receives
 * nothing; a subscribed collector may have at most `window` events unacknowledged (counted
 * per batch: a batch goes out while fewer are in flight), and what the primary cannot send
 * within that is dropped for that collector and reported with its
 * next message as `dropped`, which its hub announces to every viewer. `sub` numbers each
 * subscription so a late ack or batch from an old one is ignored.
 */
export type LiveToPrimary =
  { t: 'liveSubscribe'; sub: number } | { t: 'liveUnsubscribe'; sub: number } | { t: 'liveAck'; sub: number };

export type LiveToCollector =
  { t: 'liveReady'; sub: number } | { t: 'liveEvents'; sub: number; events: TrackedEvent[]; dropped: number };

export const DEFAULT_IPC_WINDOW = 10_000;

interface Subscriber {
  sub: number;
  send: (msg: LiveToCollector) => void;
  /** Events sent and not yet acknowledged, oldest batch first. */
  inFlight: number[];
  dropped: number;
  told: boolean;
}

/** The primary's side: one log feed, fanned out to subscribed collectors. */
export class LiveFanout {
  private readonly subscribers = new Map<string, Subscriber>();
  private running = false;
  private ready = false;
  private stopped: Promise<void> = Promise.resolve();

  constructor(
    private readonly feed: LiveFeed,
    private readonly window = DEFAULT_IPC_WINDOW,
  ) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  onMessage(collector: string, msg: LiveToPrimary, send: (msg: LiveToCollector) => void): void {
    const s = this.subscribers.get(collector);
    switch (msg.t) {
      case 'liveSubscribe':
        this.subscribers.set(collector, { sub: msg.sub, send, inFlight: [], dropped: 0, told: false });
        if (this.ready) this.tell(this.subscribers.get(collector)!);
        if (!this.running) this.start();
        break;
      case 'liveUnsubscribe':
        if (s?.sub === msg.sub) this.forget(collector);
        break;
      case 'liveAck':
        if (s?.sub !== msg.sub) return;
        s.inFlight.shift();
        if (s.dropped > 0) this.sendTo(s, []);
        break;
    }
  }

  /** The collector is gone (exited): stop sending to it. */
  forget(collector: string): void {
    if (!this.subscribers.delete(collector)) return;
    if (this.subscribers.size === 0) this.stop();
  }

  async close(): Promise<void> {
    this.subscribers.clear();
    this.stop();
    await this.stopped;
  }

  private start(): void {
    this.running = true;
    this.ready = false;
    this.feed.start({
      ready: () => {
        if (!this.running) return;
        this.ready = true;
        for (const s of this.subscribers.values()) this.tell(s);
      },
      events: (batch) => {
        for (const s of this.subscribers.values()) if (s.told) this.sendTo(s, batch);
      },
      dropped: (count) => {
        for (const s of this.subscribers.values()) s.dropped += count;
      },
    });
  }

  private stop(): void {
    if (!this.running) return;
    this.running = false;
    this.ready = false;
    const previous = this.stopped;
    const stopping = this.feed.stop();
    this.stopped = Promise.all([previous, stopping]).then(() => undefined);
  }

  private tell(s: Subscriber): void {
    if (s.told) return;
    s.told = true;
    s.send({ t: 'liveReady', sub: s.sub });
  }

  private sendTo(s: Subscriber, events: readonly TrackedEvent[]): void {
    if (s.inFlight.reduce((a, b) => a + b, 0) >= this.window) {
      // Counted in beacon_live_dropped_total by the collector's hub, per viewer, when it hears.
      s.dropped += events.length;
      return;
    }
    const dropped = s.dropped;
    s.dropped = 0;
    s.inFlight.push(events.length);
    s.send({ t: 'liveEvents', sub: s.sub, events: events as TrackedEvent[], dropped });
  }
}

/** A collector's feed: subscribes to the primary while its hub has viewers. */
export class IpcFeed implements LiveFeed {
  private sub = 0;
  private sink: FeedSink | undefined;

  constructor(private readonly send: (msg: LiveToPrimary) => void) {}

  start(sink: FeedSink): void {
    this.sink = sink;
    this.send({ t: 'liveSubscribe', sub: ++this.sub });
  }

  stop(): Promise<void> {
    this.sink = undefined;
    this.send({ t: 'liveUnsubscribe', sub: this.sub });
    return Promise.resolve();
  }

  onMessage(msg: LiveToCollector): void {
    const sink = this.sink;
    if (!sink || msg.sub !== this.sub) return;
    if (msg.t === 'liveReady') {
      sink.ready();
      return;
    }
    // Ack first: the hub only queues (it never waits on a socket), so the ack says "taken".
    this.send({ t: 'liveAck', sub: msg.sub });
    if (msg.dropped > 0) sink.dropped(msg.dropped);
    if (msg.events.length > 0) sink.events(msg.events);
  }
}
