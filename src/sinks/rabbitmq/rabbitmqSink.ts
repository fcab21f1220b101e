import { readFileSync } from 'node:fs';
import { Connection, type Channel, type ReturnedMessage } from 'rabbitmq-client';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { getCodec } from '../../event/codecs/registry.js';
import type { Codec } from '../../event/codecs/codec.js';
import {
  CONNECTION_CLOSE_MS,
  SinkError,
  type RejectedEvent,
  type Sink,
  type SinkContext,
  type SinkDeadlines,
  closeOrDestroy,
} from '../sink.js';
import type { RabbitmqSinkConfig } from './index.js';
import { BrokenConnection } from '../connection.js';
import { classifyAmqpError } from './amqpErrors.js';
import { compileTemplate, type EventTemplate } from '../eventTemplate.js';

/** AMQP 0-9-1 caps a routing key (a short string) at 255 bytes; a longer one closes the channel. */
const MAX_ROUTING_KEY_BYTES = 255;

/**
 * Publishes each event as one message on a confirm-mode channel. A batch is delivered only
 * when the broker confirmed every message in it:
 * - a message the broker nacks fails the batch with `retry` (the broker could not store it now);
 * - a message returned as unroutable (`mandatory`) fails the batch with `retry`, or, with
 *   `onUnroutable: reject`, is named as rejected so the dispatcher dead-letters it;
 * - a lost connection or channel fails it with `reconnect`; the dispatcher closes and reopens.
 * The sink never reconnects on its own: `open` makes one attempt, the dispatcher owns back-off.
 */
export class RabbitmqSink implements Sink {
  private readonly codec: Codec;
  /** Undefined in `queue` mode: the queue name is the routing key. */
  private readonly routingKey: EventTemplate | undefined;
  private readonly where: { host: string; port: number; vhost: string; user: string };
  private connection: Connection | undefined;
  private channel: Channel | undefined;
  /** Whether the connection went away since the last attempt. */
  private readonly link = new BrokenConnection((err) => classifyAmqpError(err, this.where), 'rabbitmq');
  readonly deadlines: SinkDeadlines;

  constructor(
    private readonly config: RabbitmqSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
  ) {
    this.codec = getCodec(config.codec);
    this.routingKey = config.queue !== undefined ? undefined : compileTemplate(config.routingKey);
    this.where = { host: config.host, port: config.port, vhost: config.vhost, user: config.user };
    this.deadlines = {
      attemptMs: config.confirmTimeoutMs,
      timedOut: (ms) =>
        new SinkError('reconnect', `rabbitmq ${config.host}:${config.port} did not confirm the batch within ${ms} ms`, {
          errorType: 'confirm_timeout',
        }),
      closeMs: CONNECTION_CLOSE_MS,
    };
  }

  async open(): Promise<void> {
    if (this.channel?.active) return;
    await this.close();
    this.link.reset();
    const tls = this.tlsOptions();
    const connection = new Connection({
      hostname: this.config.host,
      port: this.config.port,
      username: this.config.user,
      password: this.config.password,
      vhost: this.config.vhost,
      tls,
      connectionName: `beacon sink ${this.context.name}`,
      connectionTimeout: this.config.connectTimeoutMs,
      acquireTimeout: this.config.connectTimeoutMs,
      heartbeat: this.config.heartbeatSeconds,
      // The client would reconnect on its own; the dispatcher does that here, so keep its retry slow.
      retryLow: 60_000,
      retryHigh: 60_000,
    });
    this.connection = connection;
    connection.on('error', (err) => {
      this.link.markBroken(err);
    });
    try {
      await this.firstConnect(connection);
      const channel = await connection.acquire();
      channel.on('close', () => {
        this.link.markBroken(new SinkError('reconnect', 'the channel was closed', { errorType: 'channel_closed' }));
      });
      channel.on('error', (err) => {
        this.link.markBroken(err);
      });
      await channel.confirmSelect();
      await this.declare(channel);
      this.channel = channel;
    } catch (err) {
      connection.unsafeDestroy();
      this.connection = undefined;
      throw err instanceof SinkError ? err : classifyAmqpError(err, this.where);
    }
  }

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const channel = this.channel;
    if (!channel?.active || this.link.broken) throw this.link.lost();
    const rejected: RejectedEvent[] = [];
    const messages: { index: number; routingKey: string; body: Buffer }[] = [];
    batch.forEach((event, index) => {
      const rendered = this.routingKey ? this.routingKey.render(event) : { value: this.config.queue! };
      if ('missing' in rendered) {
        rejected.push({
          index,
          reason: `routing key template "${this.config.routingKey}": the event has no ${rendered.missing} (add a fallback, e.g. {${rendered.missing}|unknown})`,
        });
        return;
      }
      const routingKey = rendered.value;
      if (Buffer.byteLength(routingKey) > MAX_ROUTING_KEY_BYTES) {
        rejected.push({
          index,
          reason: `routing key is longer than ${MAX_ROUTING_KEY_BYTES} bytes: ${routingKey.slice(0, 80)}...`,
        });
      } else {
        messages.push({ index, routingKey, body: this.body(event) });
      }
    });

    // The broker sends a return before the confirm of the same message, so they are all in
    // shortly after every publish has settled (see below). Messages carry the event id; with
    // duplicate ids in one batch a return is matched to the first of them not matched yet.
    const returned = new Map<number, ReturnedMessage>();
    const onReturn = (msg: ReturnedMessage) => {
      const match = messages.find((m) => batch[m.index]!.id === msg.messageId && !returned.has(m.index));
      if (match) returned.set(match.index, msg);
    };
    channel.on('basic.return', onReturn);
    let results: PromiseSettledResult<void>[];
    try {
      const publishing = Promise.allSettled(
        messages.map((m) =>
          channel.basicPublish(
            {
              exchange: this.config.queue !== undefined ? '' : this.config.exchange!,
              routingKey: m.routingKey,
              durable: this.config.persistent,
              mandatory: this.config.mandatory,
              messageId: batch[m.index]!.id,
              type: batch[m.index]!.type,
              contentType:
                this.config.payload === 'props' || this.codec.name === 'json' ? 'application/json' : 'text/plain',
            },
            m.body,
          ),
        ),
      );
      // Confirms that do not come within confirmTimeoutMs: the loop's attempt deadline.
      results = await publishing;
      // The client emits returns on a later turn (setImmediate) than it settles confirms;
      // one more turn lets every return queued before the last confirm arrive.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      channel.off('basic.return', onReturn);
    }

    let nacked = 0;
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      const err = result.reason as { code?: string };
      if (err?.code !== 'NACK') throw this.link.broken ? this.link.lost() : classifyAmqpError(err, this.where);
      nacked++;
    }
    if (nacked > 0) {
      throw new SinkError(
        'retry',
        `rabbitmq ${this.config.host}:${this.config.port} nacked ${nacked} of ${messages.length} message(s) (the broker could not take them, e.g. a full queue with overflow reject-publish)`,
        { errorType: 'nack' },
      );
    }
    if (returned.size > 0) {
      const [first] = returned.values();
      const why = `returned unroutable by rabbitmq (${first!.replyCode} ${first!.replyText}): no queue bound to exchange "${first!.exchange}" for routing key "${first!.routingKey}"`;
      if (this.config.onUnroutable === 'retry') {
        throw new SinkError('retry', `${returned.size} message(s) ${why}; bind a queue or set onUnroutable: reject`, {
          errorType: 'unroutable',
        });
      }
      for (const [index, msg] of returned) {
        rejected.push({
          index,
          reason: `returned unroutable by rabbitmq (${msg.replyCode} ${msg.replyText}): no queue bound to exchange "${msg.exchange}" for routing key "${msg.routingKey}"`,
        });
      }
    }
    if (rejected.length > 0) {
      throw new SinkError('reject', `${rejected.length} event(s) of the batch cannot be published`, {
        errorType: returned.size > 0 ? 'unroutable' : 'routing_key',
        rejected,
      });
    }
  }

  /** Called without a signal (by `open`, or directly), the usual connection deadline applies. */
  async close(signal: AbortSignal = AbortSignal.timeout(CONNECTION_CLOSE_MS)): Promise<void> {
    const connection = this.connection;
    const channel = this.channel;
    this.connection = undefined;
    this.channel = undefined;
    if (!connection) return;
    // Every deliver waits for its confirms, so nothing is buffered here; a dead link is
    // destroyed (a failed close, or the loop's close deadline).
    const politeClose = (async () => {
      if (channel?.active) await channel.close();
      await connection.close();
    })();
    await closeOrDestroy(signal, politeClose, () => connection.unsafeDestroy());
  }

  /** Resolves on the first successful connection; rejects with the first error (the client would retry). */
  private firstConnect(connection: Connection): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: unknown) => {
        connection.off('connection', onConnection);
        reject(err);
      };
      const onConnection = () => {
        connection.off('error', onError);
        resolve();
      };
      connection.once('error', onError);
      connection.once('connection', onConnection);
    });
  }

  private async declare(channel: Channel): Promise<void> {
    const declare =
      this.config.declare === true
        ? { exchangeType: 'topic' as const, durable: true }
        : this.config.declare || undefined;
    if (this.config.queue !== undefined) {
      await channel.queueDeclare({ queue: this.config.queue, durable: declare?.durable ?? true, passive: !declare });
      return;
    }
    const exchange = this.config.exchange!;
    // The default exchange ("") and amq.* always exist and may not be declared.
    if (exchange === '' || exchange.startsWith('amq.')) return;
    await channel.exchangeDeclare({
      exchange,
      type: declare?.exchangeType ?? 'topic',
      durable: declare?.durable ?? true,
      passive: !declare,
    });
  }

  private body(event: TrackedEvent): Buffer {
    if (this.config.payload === 'props') return Buffer.from(JSON.stringify(event.props), 'utf8');
    return this.codec.encode(event);
  }

  private tlsOptions(): boolean | TlsOptions {
    const tls = this.config.tls;
    if (!tls?.enabled) return false;
    const read = (field: 'ca' | 'cert' | 'key') => {
      const path = tls[field];
      if (path === undefined) return undefined;
      try {
        return readFileSync(path);
      } catch (err) {
        throw new SinkError(
          'fatal',
          `cannot read tls.${field} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          { errorType: 'tls_file', cause: err },
        );
      }
    };
    return {
      ca: read('ca'),
      cert: read('cert'),
      key: read('key'),
      servername: tls.servername ?? this.config.host,
      rejectUnauthorized: tls.rejectUnauthorized,
    };
  }
}
