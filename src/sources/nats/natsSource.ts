import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import { systemClock } from '../../ops/clock.js';
import { QueueSource } from '../queueIntake.js';
import type { Emit } from '../source.js';
import type { NatsSourceConfig } from './index.js';

/**
 * Takes messages from NATS and acknowledges them only after their events are durable.
 *
 * - JetStream (`jetstream:`): a durable pull consumer with explicit acks. A message is acked
 *   after `emit` resolved; when the log refuses it is `nak`ed with a growing delay (JetStream
 *   redelivers it then) and the source pauses before taking more. A crash leaves it unacked:
 *   redelivered after `ackWait`. At-least-once.
 * - Core NATS: a subscription (with a queue group when set). Core NATS keeps nothing, so a
 *   refused message is retried here with back-off until the log takes it; it is lost only if
 *   Beacon stops or crashes meanwhile (at-most-once, as core NATS itself). A message sent with
 *   `request()` is answered (empty reply) only after its events are durable, so such a
 *   publisher can retry on timeout and get at-least-once.
 * - Up to `concurrency` messages are handled at once.
 * - The client reconnects by itself, forever, with jittered waits; the pull consumer resumes.
 */
export class NatsSource extends QueueSource<NatsSourceConfig> {
  private nc: NatsConnection | undefined;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** Set while the log refuses: no new message is taken before it passes. */
  private pausedUntil = 0;

  async start(emit: Emit): Promise<void> {
    // Connecting happens in the loop, so a NATS server that is down does not hold up Beacon's start.
    this.loop = this.run(emit);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.messages?.stop();
    await Promise.all(this.inFlight);
    await this.loop;
    await this.nc?.drain().catch(() => {});
  }

  private async run(emit: Emit): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        const nc = (this.nc ??= await connect({
          servers: this.config.servers,
          name: `beacon-source-${this.name}`,
          user: this.config.user,
          pass: this.config.pass,
          token: this.config.token,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
        }));
        if (this.config.jetstream) await this.consumeJetStream(nc, this.config.jetstream, emit, signal);
        else await this.consumeCore(nc, emit, signal);
      } catch (err) {
        if (signal.aborted) break;
        this.context.logger.warn({ source: this.name, err: (err as Error).message }, 'nats source failed; retrying');
        await systemClock.sleep(this.intake.retryDelay(), signal);
      }
    }
  }

  private async consumeJetStream(
    nc: NatsConnection,
    options: NonNullable<NatsSourceConfig['jetstream']>,
    emit: Emit,
    signal: AbortSignal,
  ): Promise<void> {
    const jsm = await jetstreamManager(nc);
    const exists = await jsm.consumers.info(options.stream, options.durable).then(
      () => true,
      (err: unknown) => {
        if (err instanceof JetStreamApiError && (err.code === 10014 || err.code === 10059)) {
          if (err.code === 10059)
            throw new Error(`JetStream stream "${options.stream}" does not exist; create it first`);
          return false;
        }
        throw err;
      },
    );
    if (!exists) {
      if (!options.create)
        throw new Error(
          `JetStream consumer "${options.durable}" does not exist on stream "${options.stream}": create it, or set jetstream.create: true`,
        );
      await jsm.consumers.add(options.stream, {
        durable_name: options.durable,
        ack_policy: AckPolicy.Explicit,
        filter_subject: this.config.subject,
        ack_wait: options.ackWait * 1_000_000,
        max_ack_pending: options.maxAckPending,
      });
      this.context.logger.info(
        { source: this.name, stream: options.stream, durable: options.durable },
        'created JetStream consumer',
      );
    }
    const consumer = await jetstream(nc).consumers.get(options.stream, options.durable);
    const messages = await consumer.consume({
      max_messages: Math.min(this.config.concurrency * 2, options.maxAckPending),
    });
    this.messages = messages;
    if (signal.aborted) messages.stop();
    for await (const msg of messages) {
      await this.slot(signal);
      this.track(this.handleJetStream(msg, emit));
    }
  }

  private async handleJetStream(msg: JsMsg, emit: Emit): Promise<void> {
    if (await this.intake.take([Buffer.from(msg.data)], emit)) {
      msg.ack();
      return;
    }
    const delay = this.intake.retryDelay();
    this.pausedUntil = Date.now() + delay;
    msg.nak(delay);
  }

  private async consumeCore(nc: NatsConnection, emit: Emit, signal: AbortSignal): Promise<void> {
    const sub = nc.subscribe(this.config.subject, { queue: this.config.queue });
    signal.addEventListener('abort', () => sub.unsubscribe(), { once: true });
    for await (const msg of sub) {
      await this.slot(signal);
      this.track(this.handleCore(msg, emit, signal));
    }
    // The subscription ends only when stopping (or the connection closed for good).
    if (!signal.aborted) throw new Error('the subscription ended');
  }

  private async handleCore(msg: Msg, emit: Emit, signal: AbortSignal): Promise<void> {
    const payload = Buffer.from(msg.data);
    while (!(await this.intake.take([payload], emit))) {
      const delay = this.intake.retryDelay();
      this.pausedUntil = Date.now() + delay;
      await systemClock.sleep(delay, signal);
      if (signal.aborted) {
        this.context.logger.warn(
          { source: this.name, subject: msg.subject },
          'stopping while the log refuses: a core NATS message is dropped (core NATS cannot redeliver)',
        );
        return;
      }
    }
    if (msg.reply) msg.respond();
  }

  /** Waits for room under `concurrency`, and out any pause the log asked for. */
  private async slot(signal: AbortSignal): Promise<void> {
    while (this.inFlight.size >= this.config.concurrency) await Promise.race(this.inFlight);
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) await systemClock.sleep(wait, signal);
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((err: unknown) =>
        this.context.logger.error({ source: this.name, err: (err as Error).message }, 'handling a nats message failed'),
      )
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}
