import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import {
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  StorageType,
  type JetStreamClient,
  type PubAck,
} from '@nats-io/jetstream';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { getCodec } from '../../event/codecs/registry.js';
import type { Codec } from '../../event/codecs/codec.js';
import { compileTemplate, routeBatch, unroutableError, type EventTemplate } from '../eventTemplate.js';
import { SinkError, type Sink, type SinkContext, type SinkDeadlines, closeOrDestroy } from '../sink.js';
import type { NatsSinkConfig } from './index.js';
import { classifyNatsError, worstFailure } from './natsErrors.js';

/** Characters a substituted value may not carry into a subject: they would add tokens or wildcards. */
const cleanToken = (value: string) => value.replace(/[\s.*>]/g, '_');

/**
 * Publishes each event of a batch to its templated subject.
 *
 * - Core NATS: publish every event, then `flush()` (a PING/PONG round trip): when it resolves
 *   the server has processed every message of the batch. Core NATS keeps nothing, so only
 *   subscribers connected at that moment get them.
 * - JetStream: every publish of the batch is put in flight at once and the sink awaits all the
 *   acks (one round trip for the batch, not one per event). `Nats-Msg-Id` is the event id, so
 *   a batch retried after a lost ack is de-duplicated by the stream within its duplicate window.
 * - The client's own reconnect is off: a lost connection fails the attempt with `reconnect` and
 *   the dispatcher reopens with back-off, so there is one reconnect policy in Beacon.
 */
export class NatsSink implements Sink {
  private readonly codec: Codec;
  private readonly subject: EventTemplate;
  private nc: NatsConnection | undefined;
  /** Rejects when the connection closes, so an attempt in flight fails at once, not at its timeout. */
  private lost: Promise<never> | undefined;
  private js: JetStreamClient | undefined;
  readonly deadlines: SinkDeadlines;
  /** An asynchronous server error (permissions violation) seen since the last delivery. */
  private serverError: Error | undefined;

  constructor(
    private readonly config: NatsSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
  ) {
    this.codec = getCodec(config.codec);
    this.subject = compileTemplate(config.subject, cleanToken);
    this.deadlines = {
      // Core NATS: a flush past timeoutMs replaces the connection. JetStream publishes carry
      // their own timeout (the client's), so their failures are classified one by one.
      attemptMs: config.jetstream ? undefined : config.timeoutMs,
      timedOut: () => classifyNatsError(new errors.TimeoutError(), 'publishing'),
      closeMs: config.timeoutMs,
    };
  }

  async open(): Promise<void> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: this.config.servers,
        name: `beacon-sink-${this.context.name}`,
        user: this.config.user,
        pass: this.config.pass,
        token: this.config.token,
        timeout: this.config.timeoutMs,
        reconnect: false,
      });
    } catch (err) {
      throw classifyNatsError(err, 'connecting');
    }
    this.nc = nc;
    this.lost = nc.closed().then((err) => {
      throw err ?? new errors.ClosedConnectionError();
    });
    this.lost.catch(() => {});
    this.serverError = undefined;
    void this.watch(nc);
    if (this.config.jetstream) {
      try {
        await this.prepareJetStream(nc);
      } catch (err) {
        await nc.close().catch(() => {});
        this.nc = undefined;
        throw err instanceof SinkError ? err : classifyNatsError(err, 'checking JetStream');
      }
    }
  }

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const nc = this.nc;
    if (!nc || nc.isClosed())
      throw new SinkError('reconnect', 'nats sink is not connected', { errorType: 'not_connected' });
    const { routed, unroutable } = routeBatch(this.subject, 'subject', batch);
    const messages = routed.map(({ destination, event }) => ({ subject: destination, event }));
    if (this.js) await this.publishJetStream(this.js, messages);
    else await this.publishCore(nc, messages);
    if (unroutable.length > 0) throw unroutableError('subject', unroutable);
  }

  async close(signal: AbortSignal = AbortSignal.timeout(this.config.timeoutMs)): Promise<void> {
    const nc = this.nc;
    this.nc = undefined;
    this.lost = undefined;
    this.js = undefined;
    if (!nc || nc.isClosed()) return;
    // drain() flushes what the client still buffers; the loop's close deadline (timeoutMs) closes it.
    await closeOrDestroy(signal, nc.drain(), () => nc.close().catch(() => {}));
  }

  private async publishCore(
    nc: NatsConnection,
    messages: readonly { subject: string; event: TrackedEvent }[],
  ): Promise<void> {
    try {
      for (const { subject, event } of messages) nc.publish(subject, this.codec.encode(event));
      await Promise.race([nc.flush(), this.lost!]);
    } catch (err) {
      throw classifyNatsError(err, 'publishing');
    }
    this.throwServerError();
  }

  private async publishJetStream(
    js: JetStreamClient,
    messages: readonly { subject: string; event: TrackedEvent }[],
  ): Promise<void> {
    const timeout = this.config.timeoutMs;
    const results = await Promise.allSettled<PubAck>(
      messages.map(({ subject, event }) =>
        Promise.race([js.publish(subject, this.codec.encode(event), { msgID: event.id, timeout }), this.lost!]),
      ),
    );
    const failures = results.flatMap((r, i) =>
      r.status === 'rejected' ? [classifyNatsError(r.reason, 'publishing', messages[i]!.subject)] : [],
    );
    this.throwServerError();
    if (failures.length > 0) throw worstFailure(failures, results.length);
  }

  /** Checks JetStream is enabled and the configured stream exists (creating it when asked). */
  private async prepareJetStream(nc: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(nc, { timeout: this.config.timeoutMs });
    const stream = this.config.stream;
    if (stream) {
      const exists = await jsm.streams.info(stream.name).then(
        () => true,
        (err: unknown) => {
          if (err instanceof JetStreamApiError && err.code === 10059) return false;
          throw err;
        },
      );
      if (!exists && !stream.create) {
        throw new SinkError(
          'fatal',
          `JetStream stream "${stream.name}" does not exist: create it, or set stream.create: true`,
          { errorType: 'no_stream' },
        );
      }
      if (!exists) {
        await jsm.streams.add({
          name: stream.name,
          subjects: stream.subjects,
          storage: stream.storage === 'memory' ? StorageType.Memory : StorageType.File,
          max_age: stream.maxAge * 1_000_000,
          duplicate_window: stream.duplicateWindow * 1_000_000,
        });
        this.context.logger.info(
          { sink: this.context.name, stream: stream.name, subjects: stream.subjects },
          'created JetStream stream',
        );
      }
    }
    this.js = jetstream(nc, { timeout: this.config.timeoutMs });
  }

  /** Remembers permission errors the server sends asynchronously (core publishes get no answer). */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (
        status.type === 'error' &&
        (status.error instanceof errors.PermissionViolationError || status.error instanceof errors.AuthorizationError)
      ) {
        this.serverError = status.error;
      }
    }
  }

  private throwServerError(): void {
    const err = this.serverError;
    if (!err) return;
    this.serverError = undefined;
    throw new SinkError('fatal', `NATS refused the sink: ${err.message}; check the user's publish permissions`, {
      errorType: 'permissions',
      cause: err,
    });
  }
}
