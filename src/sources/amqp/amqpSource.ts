import { readFileSync } from 'node:fs';
import { Connection, ConsumerStatus, type AsyncMessage, type Consumer } from 'rabbitmq-client';
import type { ErrorCode } from '../../errors/codes.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { systemClock } from '../../ops/clock.js';
import { PayloadDecoder } from '../decodePayload.js';
import { splitParts } from '../queueIntake.js';
import { jsonBoundsOf, parseBoundedJson } from '../boundedJson.js';
import { isRejection } from '../../event/rejection.js';
import type { Emit, Source, SourceContext } from '../source.js';
import { SOURCE_EVENTS } from '../internalEvents.js';
import type { AmqpSourceConfig } from './index.js';

/**
 * Consumes one RabbitMQ queue. Promises it keeps:
 * - A message is acked only after `emit` resolved (its events are durable in the log) and
 *   any bad parts of it are on disk in the source's dead letter. A crash before that leaves
 *   the message unacked, so the broker redelivers it (at-least-once).
 * - A message that holds nothing valid is dead-lettered with the reason, then acked: it never
 *   blocks the queue. A message with some bad parts emits the good events and dead-letters
 *   the bad parts.
 * - When `emit` rejects (log full, closing) the message is requeued after a growing pause, so
 *   a full log slows the consumer instead of spinning.
 * - At most `prefetch` messages are unacked at once. The client reconnects with back-off
 *   (up to `maxBackoff`) when the connection is lost; unacked messages are redelivered.
 * - `stop()` cancels the consumer and resolves once every message in flight is acked or requeued.
 */
export class AmqpSource implements Source {
  readonly name: string;
  private readonly decoder: PayloadDecoder;
  private connection: Connection | undefined;
  private consumer: Consumer | undefined;
  private emit: Emit | undefined;
  private refusals = 0;
  private readonly stopping = new AbortController();

  constructor(
    private readonly config: AmqpSourceConfig,
    private readonly context: SourceContext,
  ) {
    this.name = config.name;
    this.decoder = new PayloadDecoder(config.name, config.format, context.limits, Date.now, context.marks);
  }

  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    const { config, context } = this;
    const connection = new Connection({
      ...(config.url !== undefined
        ? { url: config.url }
        : {
            hostname: config.host,
            port: config.port,
            username: config.user,
            password: config.password,
            vhost: config.vhost,
          }),
      tls: this.tlsOptions(),
      connectionName: `beacon source ${config.name}`,
      retryLow: 250,
      retryHigh: config.maxBackoff,
      acquireTimeout: 10_000,
      heartbeat: 30,
    });
    this.connection = connection;
    const where =
      config.url !== undefined
        ? config.url.replace(/:[^/@:]*@/, ':***@')
        : `${config.host}:${config.port} vhost "${config.vhost}"`;
    connection.on('error', (err: { code?: string; message?: string }) => {
      SOURCE_EVENTS.sourceConnectionError.emit(
        context,
        { err: err.message, code: err.code },
        describe(err, where, config.user),
      );
    });
    connection.on('connection', () => SOURCE_EVENTS.sourceConnected.emit(context, {}, where));

    const declare =
      config.declare === true ? { durable: true, exchange: undefined, routingKey: '#' } : config.declare || undefined;
    const consumer = connection.createConsumer(
      {
        queue: config.queue,
        queueOptions: declare ? { durable: declare.durable } : { passive: true },
        queueBindings: declare?.exchange
          ? [{ queue: config.queue, exchange: declare.exchange, routingKey: declare.routingKey }]
          : undefined,
        qos: { prefetchCount: config.prefetch },
        concurrency: config.prefetch,
        requeue: true,
      },
      (msg) => this.handle(msg),
    );
    consumer.on('error', (err: { code?: string; message?: string }) => {
      SOURCE_EVENTS.sourceConsumerError.emit(
        context,
        { err: err.message, code: err.code },
        `queue "${config.queue}": ${describe(err, where, config.user)}`,
      );
    });
    this.consumer = consumer;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    const { consumer, connection } = this;
    this.consumer = undefined;
    this.connection = undefined;
    // close() waits for handlers in flight; bound it in case the broker is unreachable.
    const closed = await Promise.race([
      (async () => {
        await consumer?.close();
        await connection?.close();
        return true;
      })().catch(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(false), 15_000).unref()),
    ]);
    if (!closed) connection?.unsafeDestroy();
  }

  private async handle(msg: AsyncMessage): Promise<ConsumerStatus> {
    const payload = rawBody(msg);
    const meta = { amqp: { exchange: msg.exchange, routingKey: msg.routingKey } };
    const { events, bad } = this.decode(payload);
    this.context.metrics.eventsReceived.inc({ source: this.name }, events.length + bad.length);
    for (const event of events) event.meta = { ...event.meta, ...meta };
    try {
      if (events.length > 0) await this.emit!(events);
      for (const part of bad) await this.context.deadLetter(part.payload, part.code, part.reason);
      this.refusals = 0;
      return ConsumerStatus.ACK;
    } catch (err) {
      // Emit refused (log full or closing) or the dead letter could not be written: keep the
      // message in the queue and slow down; it comes back, possibly to another consumer.
      this.refusals++;
      const pause = Math.min(this.config.maxBackoff, 100 * 2 ** Math.min(this.refusals, 16));
      SOURCE_EVENTS.sourceRefused.emit(this.context, { err: (err as Error).message, pauseMs: pause });
      await systemClock.sleep(pause, this.stopping.signal);
      return ConsumerStatus.REQUEUE;
    }
  }

  private decode(payload: Buffer): {
    events: TrackedEvent[];
    bad: { payload: Buffer | string; code: ErrorCode; reason: string }[];
  } {
    const limit = this.context.limits.bodyBytes;
    if (payload.length > limit) {
      return {
        events: [],
        bad: [
          {
            payload,
            code: 'BEACON_E_BODY_TOO_LARGE',
            reason: `message of ${payload.length} bytes is over server.limits.bodyBytes (${limit})`,
          },
        ],
      };
    }
    if (this.config.wrapAs !== undefined) {
      // Bounded like every other JSON intake: depth and elements are checked before the parse.
      const parsed = parseBoundedJson(payload.toString('utf8'), jsonBoundsOf(this.context.limits));
      if (isRejection(parsed)) return { events: [], bad: [{ payload, code: parsed.code, reason: parsed.message }] };
      const value = parsed.value;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return {
          events: [],
          bad: [{ payload, code: 'BEACON_E_BAD_EVENT', reason: `wrapAs expects each message to be one JSON object` }],
        };
      }
      const decoded = this.decoder.decode(JSON.stringify({ type: this.config.wrapAs, props: value }));
      return {
        events: decoded.events,
        bad: decoded.rejected.map((r) => ({ payload, code: r.code, reason: r.message })),
      };
    }
    const decoded = this.decoder.decode(payload);
    if (decoded.rejected.length === 0) return { events: decoded.events, bad: [] };
    const parts = decoded.events.length === 0 ? undefined : splitParts(payload.toString('utf8'));
    return {
      events: decoded.events,
      bad: decoded.rejected.map((r) => ({
        payload: parts?.[r.index] ?? payload,
        code: r.code,
        reason:
          decoded.events.length === 0 && decoded.rejected.length === 1
            ? r.message
            : `part ${r.index} of the message: ${r.message}`,
      })),
    };
  }

  private tlsOptions() {
    const tls = this.config.tls;
    if (!tls?.enabled) return this.config.url?.startsWith('amqps:') ?? false;
    return {
      ca: tls.ca ? readFileSync(tls.ca) : undefined,
      servername: tls.servername ?? this.config.host,
      rejectUnauthorized: tls.rejectUnauthorized,
    };
  }
}

/**
 * The client hands text/plain bodies over as strings and application/json bodies parsed (any
 * JSON value, a string included); the decoder wants the text.
 */
function rawBody(msg: AsyncMessage): Buffer {
  const body: unknown = msg.body;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string' && msg.contentType !== 'application/json') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
}

function describe(err: { code?: string; message?: string }, where: string, user: string): string {
  const detail = err.message ?? String(err);
  switch (err.code) {
    case 'ACCESS_REFUSED':
      return `${where} refused user "${user}" (${detail}); check user and password and the user's permissions on the vhost. Retrying.`;
    case 'NOT_ALLOWED':
      return `${where} is not available (${detail}); check the vhost name or grant the user access to it. Retrying.`;
    case 'NOT_FOUND':
      return `${detail}; create the queue or set declare: true. Retrying.`;
    default:
      return `${where}: ${detail}. Reconnecting with back-off.`;
  }
}
