import { randomBytes } from 'node:crypto';
import type * as Mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { getCodec } from '../../event/codecs/registry.js';
import type { Codec } from '../../event/codecs/codec.js';
import { compileTemplate, routeBatch, unroutableError, type EventTemplate } from '../eventTemplate.js';
import { SinkError, type Sink, type SinkContext, type SinkDeadlines, closeOrDestroy } from '../sink.js';
import type { MqttSinkConfig } from './index.js';
import { lazyRequire } from '../../net/lazyRequire.js';

const mqtt = lazyRequire<typeof Mqtt>('mqtt');

/** Characters a substituted value may not carry into a topic: levels, wildcards, NUL. */
const cleanLevel = (value: string) => value.replace(/[/+#\0]/g, '_');

/**
 * Publishes every event of a batch at QoS 1 (or 2) at once and resolves when the broker has
 * acknowledged each one (PUBACK, or PUBCOMP for QoS 2).
 *
 * - Clean session, the client's own reconnect off: a lost connection fails the attempt with
 *   `reconnect`; the dispatcher reopens with back-off and resends the whole batch, so a batch
 *   cut in the middle is delivered at least once (duplicates possible, never a loss).
 * - The broker refusing the credentials (CONNACK 4 or 5) stops the sink (`fatal`). MQTT 3.1.1
 *   brokers acknowledge a publish their ACL drops without saying so: that cannot be seen here.
 */
export class MqttSink implements Sink {
  private readonly codec: Codec;
  private readonly topic: EventTemplate;
  private client: MqttClient | undefined;
  /** Rejects when the connection closes, so an attempt in flight fails at once. */
  private lost: Promise<never> | undefined;
  readonly deadlines: SinkDeadlines;

  constructor(
    private readonly config: MqttSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
  ) {
    this.codec = getCodec(config.codec);
    this.topic = compileTemplate(config.topic, cleanLevel);
    this.deadlines = {
      // A batch's acks past timeoutMs: the connection is replaced and the batch resent whole.
      attemptMs: config.timeoutMs,
      timedOut: (ms) =>
        new SinkError('reconnect', `no ack from the MQTT broker within ${ms} ms`, { errorType: 'timeout' }),
      closeMs: config.timeoutMs,
    };
  }

  async open(): Promise<void> {
    let client: MqttClient;
    try {
      client = await mqtt().connectAsync(
        this.config.url,
        {
          clientId: this.config.clientId ?? `beacon-sink-${this.context.name}-${randomBytes(4).toString('hex')}`,
          username: this.config.username,
          password: this.config.password,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: this.config.timeoutMs,
          // false: a connection closed before CONNACK rejects, instead of waiting for a retry that never comes.
        },
        false,
      );
    } catch (err) {
      const e = classifyMqttError(err, 'connecting');
      // Whatever stops a connection other than refused credentials is worth a new connection later.
      throw e.kind === 'retry' ? new SinkError('reconnect', e.message, { errorType: 'connection', cause: err }) : e;
    }
    if (!client.connected) {
      await client.endAsync(true).catch(() => {});
      throw new SinkError('reconnect', 'the MQTT broker closed the connection before accepting it', {
        errorType: 'connection',
      });
    }
    client.on('error', (err) =>
      this.context.logger.debug({ sink: this.context.name, err: err.message }, 'mqtt connection error'),
    );
    this.lost = new Promise<never>((_, reject) =>
      client.once('close', () =>
        reject(new SinkError('reconnect', 'the connection to the MQTT broker closed', { errorType: 'connection' })),
      ),
    );
    this.lost.catch(() => {});
    this.client = client;
  }

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const client = this.client;
    if (!client?.connected)
      throw new SinkError('reconnect', 'mqtt sink is not connected', { errorType: 'not_connected' });
    const { routed, unroutable } = routeBatch(this.topic, 'topic', batch);
    const acks = routed.map(({ event, destination }) =>
      client.publishAsync(destination, this.codec.encode(event), { qos: this.config.qos, retain: this.config.retain }),
    );
    try {
      await Promise.race([Promise.all(acks), this.lost!]);
    } catch (err) {
      // Publishes left in flight are abandoned with this client; the batch is resent whole.
      for (const ack of acks) ack.catch(() => {});
      throw classifyMqttError(err, 'publishing');
    }
    if (unroutable.length > 0) throw unroutableError('topic', unroutable);
  }

  async close(signal: AbortSignal = AbortSignal.timeout(this.config.timeoutMs)): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.lost = undefined;
    if (!client) return;
    if (!client.connected) {
      await client.endAsync(true).catch(() => {});
      return;
    }
    // A graceful end waits for in-flight acks; the loop's close deadline (timeoutMs) forces it.
    await closeOrDestroy(signal, client.endAsync(), () => client.endAsync(true).catch(() => {}));
  }
}

/**
 * | error                                           | kind      |
 * |-------------------------------------------------|-----------|
 * | CONNACK 4 (bad user name or password), 5 (not authorized), 135 (MQTT 5 not authorized) | fatal |
 * | connection refused, closed, reset; timeouts     | reconnect |
 * | anything else                                   | retry     |
 */
function classifyMqttError(err: unknown, stage: string): SinkError {
  if (err instanceof SinkError) return err;
  const e = err as { message?: string; code?: unknown } | undefined;
  const message = `${stage} failed: ${e?.message ?? String(err)}`;
  if (e?.code === 4 || e?.code === 5 || e?.code === 134 || e?.code === 135) {
    return new SinkError('fatal', `the MQTT broker refused the credentials (${message}); check username and password`, {
      errorType: 'auth',
      cause: err,
    });
  }
  if (typeof e?.code === 'string' || /closed|timeout|disconnect/i.test(e?.message ?? '')) {
    return new SinkError('reconnect', message, {
      errorType: typeof e?.code === 'string' ? e.code.toLowerCase() : 'connection',
      cause: err,
    });
  }
  return new SinkError('retry', message, { errorType: 'mqtt', cause: err });
}
