import type { Clock } from '../../ops/clock.js';
import type { AlertEvents } from '../internalEvents.js';
import { formatSpan } from '../format.js';
import type { AlertNotification } from '../notification.js';
import { ChannelError, type AlertChannel } from './channel.js';

export interface ChannelQueueOptions {
  channel: AlertChannel;
  /** How long one message is retried before it is dropped. */
  retryForMs: number;
  clock: Clock;
  events: AlertEvents;
  /** Messages waiting at most; past this the oldest is dropped (a channel down for hours must not hold memory). */
  maxQueued?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Sends one channel's messages in order, one at a time, retrying a failed attempt with
 * back-off (1 s doubling to 1 min) until `retryForMs` has passed since its first attempt.
 * A failure is counted and logged, never thrown: the engine and the process carry on. A
 * permanent failure (bad credentials, a 4xx) is not retried.
 */
export class ChannelQueue {
  readonly name: string;
  private readonly queue: AlertNotification[] = [];
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly maxQueued: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(private readonly options: ChannelQueueOptions) {
    this.name = options.channel.name;
    this.maxQueued = options.maxQueued ?? 100;
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
  }

  enqueue(n: AlertNotification): void {
    if (this.stopping) {
      this.options.events.dropped(this.name, n, 'Beacon is stopping');
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      this.options.events.dropped(
        this.name,
        this.queue.shift()!,
        `more than ${this.maxQueued} messages waiting for this channel; the oldest is dropped`,
      );
    }
    this.queue.push(n);
    this.running ??= this.run();
  }

  /** Resolves once nothing is queued or being sent. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Stops retrying; messages still waiting get one attempt each until `deadlineMs`, the rest
   * are dropped (and logged), then the channel is closed.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    const timer = new AbortController();
    const inTime = await Promise.race([
      this.idle().then(() => true),
      this.options.clock.sleep(deadlineMs, timer.signal).then(() => false),
    ]);
    timer.abort();
    if (!inTime)
      for (const n of this.queue.splice(0))
        this.options.events.dropped(this.name, n, `not sent within the ${deadlineMs} ms shutdown deadline`);
    await this.options.channel.close().catch(() => {});
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.deliver(this.queue.shift()!);
    } finally {
      // In the same tick as the empty-queue check, so an enqueue never finds a loop that is about to end.
      this.running = undefined;
    }
  }

  private async deliver(n: AlertNotification): Promise<void> {
    const { channel, clock, events, retryForMs } = this.options;
    const firstAttemptAt = clock.now();
    let delay = this.initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await channel.send(n);
        events.sent(this.name, n, attempt);
        return;
      } catch (err) {
        const e =
          err instanceof ChannelError
            ? err
            : new ChannelError((err as Error).message ?? String(err), false, { cause: err });
        const outOfTime = clock.now() + delay - firstAttemptAt > retryForMs;
        const giveUp = e.permanent || this.stopping || outOfTime;
        events.failed(this.name, n, e, attempt, giveUp ? undefined : delay);
        if (giveUp) {
          const why = e.permanent
            ? 'it cannot succeed'
            : this.stopping
              ? 'Beacon is stopping'
              : `it kept failing for ${formatSpan(retryForMs)} (retryFor)`;
          events.dropped(this.name, n, `${why}; last error: ${e.message}`);
          return;
        }
        await clock.sleep(delay, this.abort.signal);
        delay = Math.min(delay * 2, this.maxBackoffMs);
      }
    }
  }
}
