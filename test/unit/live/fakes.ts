import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import type { FeedSink, LiveFeed, LiveLimits, LiveSocket } from '../../../src/live/hub.js';

/** A socket whose peer reads only when the test says so: `bufferedAmount` grows with every send. */
export class FakeSocket implements LiveSocket {
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closedWith: { code: number; reason: string } | undefined;
  /** When true, the peer reads everything at once (bufferedAmount stays 0). */
  constructor(public reading = true) {}

  send(data: string): void {
    this.sent.push(data);
    if (!this.reading) this.bufferedAmount += data.length;
  }

  close(code: number, reason: string): void {
    this.closedWith ??= { code, reason };
  }

  /** The peer reads what was buffered. */
  drain(): void {
    this.bufferedAmount = 0;
  }

  messages(): { kind: string; event?: TrackedEvent; count?: number }[] {
    return this.sent.map((s) => JSON.parse(s) as { kind: string; event?: TrackedEvent; count?: number });
  }

  events(): TrackedEvent[] {
    return this.messages().flatMap((m) => (m.kind === 'event' ? [m.event!] : []));
  }

  droppedTotal(): number {
    return this.messages().reduce((n, m) => n + (m.kind === 'dropped' ? m.count! : 0), 0);
  }
}

/** A feed the test pushes into; it records starts and stops. */
export class FakeFeed implements LiveFeed {
  sink: FeedSink | undefined;
  starts = 0;
  stops = 0;
  constructor(private readonly readyAtOnce = true) {}

  start(sink: FeedSink): void {
    this.starts++;
    this.sink = sink;
    if (this.readyAtOnce) sink.ready();
  }

  stop(): Promise<void> {
    this.stops++;
    this.sink = undefined;
    return Promise.resolve();
  }

  push(events: TrackedEvent[]): void {
    this.sink?.events(events);
  }
}

export const LIMITS: LiveLimits = {
  maxViewers: 10,
  viewerMaxEvents: 5,
  viewerMaxBytes: 100_000,
  socketMaxBytes: 1000,
  maxBehindMs: 5000,
};

let n = 0;
export function event(
  type: string,
  props: Record<string, unknown> = {},
  meta: TrackedEvent['meta'] = {},
): TrackedEvent {
  return { id: `e${++n}`, type, ts: 1_700_000_000_000 + n, props, meta };
}
