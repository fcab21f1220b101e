import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { parseAckSubject, type DeliveryInfo } from './ackSubject.js';

/** One message JetStream handed to this session, not yet acked or given back. */
export interface Delivery {
  msg: Msg;
  info: DeliveryInfo;
  /** Local time it arrived, or was last reported in progress (`+WPI`): its ack wait runs from here. */
  touchedAt: number;
}

/** Why a pull request ended, when it was not by getting all it asked for or expiring. */
export type PullTrouble =
  /** No answer at all: the consumer does not exist (JetStream ignores pulls for it) or the server died. */
  | 'silent'
  /** 409 "Consumer Deleted" (a replay elsewhere recreated it, or someone removed it). */
  | 'deleted'
  /** 503: no responders, e.g. while the consumer's leader is being elected. */
  | 'unavailable';

export interface PullSessionOptions {
  nc: NatsConnection;
  stream: string;
  /** The consumer's current name (an ephemeral one changes when it is recreated). */
  consumer: () => string;
  /** Called before the next pull after a request ran into trouble; may recreate the consumer. Errors reach the reader. */
  recover: (trouble: PullTrouble) => Promise<void>;
}

interface PullRequest {
  sub: Subscription;
  wanted: number;
  received: number;
  noWait: boolean;
  timer: NodeJS.Timeout;
}

/** Extra time past a request's expiry before it is taken as lost (a dead server sends no 408). */
const LOST_AFTER_MS = 2000;
/** Below this, a read does not send another request just to wait out its last milliseconds. */
const MIN_WAIT_MS = 10;
const UNAVAILABLE_PAUSE_MS = 250;

/**
 * Reads a pull consumer with raw pull requests (`$JS.API.CONSUMER.MSG.NEXT`), one at a time,
 * so a read can ask for exactly "up to N, waiting at most W ms" for any W, including 0
 * (`no_wait`), which the client library's fetch (1 s at least) cannot.
 *
 * Each request has its own inbox, so its status answer (404 no messages, 408 expired, 409, 503)
 * ends that request and no other. Messages that arrive after the read that asked for them has
 * returned (it was aborted, or its time was up while the server still had the request) are
 * kept and returned by the next read: nothing handed out by JetStream is dropped here. If this
 * process dies, what it held is redelivered by JetStream after the consumer's ack wait.
 */
export class PullSession {
  private readonly buffer: Delivery[] = [];
  private active: PullRequest | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly inbox: string;
  private trouble: PullTrouble | undefined;
  private pausedUntil = 0;
  private closed = false;

  constructor(private readonly options: PullSessionOptions) {
    this.inbox = createInbox();
  }

  /** Messages arrived and not yet taken. */
  get buffered(): readonly Delivery[] {
    return this.buffer;
  }

  /**
   * Resolves with up to `max` messages: at once when that many are there, otherwise after up
   * to `waitMs` with what came (with 0: one no-wait round trip). An aborted signal ends the wait.
   */
  async take(max: number, waitMs: number, signal?: AbortSignal): Promise<Delivery[]> {
    const deadline = Date.now() + Math.max(0, waitMs);
    let sent = false;
    while (!this.closed && this.buffer.length < max && !signal?.aborted) {
      const left = deadline - Date.now();
      const request = this.active;
      if (!request) {
        if (sent && left < MIN_WAIT_MS) break;
        const pause = this.pausedUntil - Date.now();
        if (pause > 0) {
          if (left <= 0) break;
          await this.changed(Math.min(pause, left), signal);
          continue;
        }
        if (this.trouble) {
          // Cleared only once recovered, so a failed recovery is tried again by the next read.
          await this.options.recover(this.trouble);
          this.trouble = undefined;
        }
        this.send(max - this.buffer.length, left);
        sent = true;
        continue;
      }
      // A request with a wait still open on the server when our time is up: its messages wait in the buffer.
      if (left <= 0 && !request.noWait) break;
      await this.changed(request.noWait ? LOST_AFTER_MS : left, signal);
    }
    return this.buffer.splice(0, max);
  }

  /** Takes every buffered message out (to give back or to drop) and ends the open request. */
  drain(): Delivery[] {
    if (this.active) this.end(this.active);
    return this.buffer.splice(0);
  }

  close(): Delivery[] {
    this.closed = true;
    const left = this.drain();
    this.notify();
    return left;
  }

  private send(batch: number, waitMs: number): void {
    const noWait = waitMs < MIN_WAIT_MS;
    const subject = `${this.inbox}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const request: PullRequest = {
      sub: undefined as unknown as Subscription,
      wanted: batch,
      received: 0,
      noWait,
      timer: setTimeout(() => this.lost(request), (noWait ? 0 : waitMs) + LOST_AFTER_MS),
    };
    request.sub = this.options.nc.subscribe(subject, { callback: (err, msg) => this.onMessage(request, err, msg) });
    this.active = request;
    const body = noWait ? { batch, no_wait: true } : { batch, expires: Math.round(waitMs) * 1_000_000 };
    this.options.nc.publish(
      `$JS.API.CONSUMER.MSG.NEXT.${this.options.stream}.${this.options.consumer()}`,
      JSON.stringify(body),
      { reply: subject },
    );
  }

  private onMessage(request: PullRequest, err: Error | null, msg: Msg): void {
    if (err) {
      this.end(request);
      return;
    }
    const info = parseAckSubject(msg.reply);
    if (info) {
      // Counted for its request even when that request has ended (late): it is ours either way.
      this.buffer.push({ msg, info, touchedAt: Date.now() });
      request.received++;
      if (request.received >= request.wanted && this.active === request) this.end(request);
      this.notify();
      return;
    }
    const code = msg.headers?.code ?? 0;
    if (code === 100) return; // idle heartbeat or flow control: the request goes on
    if (code === 409 && /consumer deleted/i.test(msg.headers?.description ?? '')) this.trouble = 'deleted';
    else if (code === 503) {
      this.trouble = 'unavailable';
      this.pausedUntil = Date.now() + UNAVAILABLE_PAUSE_MS;
    }
    // 404 (nothing there), 408 (expired), other 409s (limits): this request is over.
    this.end(request);
  }

  /** No status came: the server that had the request is gone, or the consumer does not exist. */
  private lost(request: PullRequest): void {
    if (this.active !== request) return;
    this.trouble ??= 'silent';
    this.end(request);
  }

  private end(request: PullRequest): void {
    clearTimeout(request.timer);
    request.sub.unsubscribe();
    if (this.active === request) this.active = undefined;
    this.notify();
  }

  private notify(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Resolves when a message or status arrives, after `ms`, or when `signal` aborts. */
  private changed(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }
}
