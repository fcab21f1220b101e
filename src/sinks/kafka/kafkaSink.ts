import { readFileSync } from 'node:fs';
import { lazyRequire } from '../../net/lazyRequire.js';
import type Kafkajs from 'kafkajs';
import type { ISocketFactory, KafkaConfig, LogEntry, Message, Producer, SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { Codec } from '../../event/codecs/codec.js';
import { getCodec } from '../../event/codecs/registry.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import {
  CONNECTION_CLOSE_MS,
  SinkError,
  type RejectedEvent,
  type Sink,
  type SinkContext,
  type SinkDeadlines,
  whenAborted,
} from '../sink.js';
import { AvroRecords } from './avro.js';
import { classifyKafkaError } from './errorClass.js';
import { kafkaCodec, kafkaRetries, type KafkaSinkConfig } from './kafkaConfig.js';
import { compileTopic, fieldText, type TopicResult } from './recordFields.js';

const kafkajs = lazyRequire<typeof Kafkajs>('kafkajs');

/** What a test may swap: the network under the client (e.g. to route through a TcpProxy). */
export interface KafkaSinkSeams {
  socketFactory?: ISocketFactory;
}

/**
 * Produces each batch with one `sendBatch` (acks all, idempotent producer, one request in flight
 * so a partition's order holds). Events are checked before sending: one whose topic cannot be
 * rendered, that does not fit the Avro schema, or that is larger than `maxMessageBytes` is
 * rejected by index and the rest are sent. Broker failures are classified in errorClass.ts.
 */
export class KafkaSink implements Sink {
  private readonly codec: Codec | undefined;
  private readonly avro: AvroRecords | undefined;
  private readonly topicOf: (event: TrackedEvent) => TopicResult;
  private readonly logger: Logger;
  private producer: Producer | undefined;
  /**
   * The loop bounds an attempt by requestTimeoutMs, kafkajs's resends (`retries`) included:
   * a broker that stops answering shows in the sink's status then, not after the client's
   * retry ladder. sendBatch takes no signal, so a timed-out attempt replaces the producer.
   */
  readonly deadlines: SinkDeadlines;

  constructor(
    private readonly config: KafkaSinkConfig,
    context: Pick<SinkContext, 'logger' | 'name'>,
    private readonly seams: KafkaSinkSeams = {},
  ) {
    const codec = kafkaCodec(config);
    this.codec = codec === 'avro' ? undefined : getCodec(codec);
    this.avro = codec === 'avro' ? new AvroRecords(config.avro!) : undefined;
    this.topicOf = compileTopic(config.topic);
    this.logger = context.logger.child({ sink: context.name, component: 'kafkajs' });
    this.deadlines = {
      attemptMs: config.requestTimeoutMs,
      timedOut: (ms) =>
        new SinkError('reconnect', `kafka: no answer from the brokers within ${ms} ms (requestTimeoutMs)`, {
          errorType: 'timeout',
        }),
      closeMs: CONNECTION_CLOSE_MS,
    };
  }

  async open(): Promise<void> {
    if (this.producer) return;
    await this.avro?.open();
    const kafka = new (kafkajs().Kafka)(this.clientConfig());
    const producer = kafka.producer({
      idempotent: this.config.idempotent,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: kafkajs().Partitioners.DefaultPartitioner,
      // `retries` is the one place kafkajs may resend inside an attempt (0 by default); past
      // that the attempt fails, shows in the sink's status, and the dispatcher backs off.
      retry: { retries: kafkaRetries(this.config), initialRetryTime: 100, maxRetryTime: 2_000 },
    });
    try {
      await producer.connect();
    } catch (err) {
      await producer.disconnect().catch(() => {});
      throw classifyKafkaError(err);
    }
    this.producer = producer;
  }

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new SinkError('reconnect', 'kafka sink is not open', { errorType: 'not_open' });
    const rejected: RejectedEvent[] = [];
    const routed: { index: number; topic: string; event: TrackedEvent }[] = [];
    batch.forEach((event, index) => {
      const r = this.topicOf(event);
      if ('problem' in r) rejected.push({ index, reason: r.problem });
      else routed.push({ index, topic: r.topic, event });
    });
    await this.avro?.prepare(new Set(routed.map((r) => r.topic)));

    const byTopic = new Map<string, Message[]>();
    for (const { index, topic, event } of routed) {
      let message: Message;
      try {
        message = this.message(topic, event);
      } catch (err) {
        rejected.push({ index, reason: `event ${(err as Error).message}` });
        continue;
      }
      const size = (message.key as Buffer).length + (message.value as Buffer).length;
      if (size > this.config.maxMessageBytes) {
        rejected.push({
          index,
          reason: `record too large: ${size} bytes, more than maxMessageBytes ${this.config.maxMessageBytes}`,
        });
        continue;
      }
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(message);
    }

    if (byTopic.size > 0) {
      try {
        await producer.sendBatch({
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          acks: this.config.acks === 'all' ? -1 : this.config.acks,
          timeout: this.config.requestTimeoutMs,
          compression:
            this.config.compression === 'gzip' ? kafkajs().CompressionTypes.GZIP : kafkajs().CompressionTypes.None,
        });
      } catch (err) {
        throw classifyKafkaError(err);
      }
    }
    if (rejected.length > 0) {
      rejected.sort((a, b) => a.index - b.index);
      throw new SinkError('reject', `kafka sink refused ${rejected.length} event(s): ${rejected[0]!.reason}`, {
        errorType: 'kafka_invalid_event',
        rejected,
      });
    }
  }

  /** Called without a signal (directly), the usual connection deadline applies. */
  async close(signal: AbortSignal = AbortSignal.timeout(CONNECTION_CLOSE_MS)): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (!producer) return;
    // sendBatch resolves only on the broker's answer, so nothing is buffered: disconnect just
    // closes sockets, and one still waiting on a silent broker is left behind at the deadline.
    await Promise.race([
      producer.disconnect().catch((err: unknown) => this.logger.warn({ err }, 'kafka producer disconnect failed')),
      whenAborted(signal),
    ]);
  }

  private message(topic: string, event: TrackedEvent): Message {
    const key = fieldText(event, this.config.key) ?? event.id;
    if (this.avro) return { key: this.avro.encodeKey(topic, event, key), value: this.avro.encodeValue(topic, event) };
    return { key: Buffer.from(key, 'utf8'), value: this.codec!.encode(event) };
  }

  private clientConfig(): KafkaConfig {
    const c = this.config;
    const config: KafkaConfig = {
      clientId: c.clientId,
      brokers: c.brokers,
      connectionTimeout: c.connectionTimeoutMs,
      requestTimeout: c.requestTimeoutMs,
      // No client-level retries (connect, metadata): under the producer's they would multiply
      // its waits (each resend retrying its own connect) and hide an outage from the status.
      retry: { retries: 0 },
      logLevel: kafkajs().logLevel.WARN,
      logCreator: () => (entry) => this.log(entry),
    };
    if (this.seams.socketFactory) config.socketFactory = this.seams.socketFactory;
    if (c.ssl === true) config.ssl = true;
    else if (c.ssl) {
      const file = (path: string | undefined) => {
        if (path === undefined) return undefined;
        try {
          return readFileSync(path);
        } catch (err) {
          throw new SinkError('fatal', `cannot read TLS file ${path}: ${(err as Error).message}`, {
            errorType: 'tls',
            cause: err,
          });
        }
      };
      config.ssl = {
        ca: file(c.ssl.ca),
        cert: file(c.ssl.cert),
        key: file(c.ssl.key),
        passphrase: c.ssl.passphrase,
        rejectUnauthorized: c.ssl.rejectUnauthorized,
        servername: c.ssl.servername,
      };
    }
    if (c.sasl)
      config.sasl = {
        mechanism: c.sasl.mechanism,
        username: c.sasl.username,
        password: c.sasl.password,
      } as SASLOptions;
    return config;
  }

  private log(entry: LogEntry): void {
    const { message, ...extra } = entry.log;
    // With bounded retries kafkajs warns that exactly-once may not hold; Beacon promises
    // at-least-once (the dispatcher resends a failed batch), which docs/sinks.md explains.
    if (message.startsWith('Limiting retries for the idempotent producer')) return;
    // Failures reach the dispatcher as SinkErrors and are logged there once (sink_backoff ...);
    // the client's own lines are detail for debugging.
    this.logger.debug({ namespace: entry.namespace, level: entry.label, ...extra }, message);
  }
}
