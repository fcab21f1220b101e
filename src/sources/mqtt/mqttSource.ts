import { hostname } from 'node:os';
import type * as Mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { Backoff } from '../../retry/backoff.js';
import { QueueSource } from '../queueIntake.js';
import type { Emit } from '../source.js';
import type { MqttSourceConfig } from './index.js';
import { lazyRequire } from '../../net/lazyRequire.js';

const mqtt = lazyRequire<typeof Mqtt>('mqtt');

/**
 * Takes messages from subscribed topics at QoS 1 and sends the PUBACK only after their events
 * are durable.
 *
 * Most MQTT clients acknowledge on receipt. mqtt.js sends the PUBACK of a QoS 1 message when
 * `handleMessage`'s callback is called, and handles one message at a time; this source calls it
 * after `emit` resolved. With a persistent session (`clean: false`, a stable client id) the
 * broker keeps unacknowledged messages and redelivers them on the next connection.
 *
 * What that gives: at-least-once for messages published at QoS 1 or 2 to a session the
 * broker keeps (within its queue limits while Beacon is away, e.g. Mosquitto's
 * `max_queued_messages`); at-most-once for QoS 0 publishes. When the log refuses, the message
 * is not acknowledged: the connection is dropped and reopened after a growing back-off, and
 * the broker sends the message again.
 */
export class MqttSource extends QueueSource<MqttSourceConfig> {
  private readonly reconnects = new Backoff(200, 10_000);
  private client: MqttClient | undefined;
  private stopping = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** The message being emitted; stop() waits for it. */
  private inFlight: Promise<unknown> | undefined;
  /** Set when the connection was dropped because the log refused: the next wait is the intake's. */
  private refused = false;

  async start(emit: Emit): Promise<void> {
    const client = mqtt().connect(this.config.url, {
      clientId: this.config.clientId ?? `beacon-${hostname()}-${this.name}`,
      username: this.config.username,
      password: this.config.password,
      clean: false,
      // Reconnecting is done here, with back-off (mqtt.js only knows a fixed period).
      reconnectPeriod: 0,
    });
    client.handleMessage = (packet, callback) => {
      const payload = typeof packet.payload === 'string' ? packet.payload : Buffer.from(packet.payload);
      const handled = this.intake.take([payload], emit);
      this.inFlight = handled.catch(() => false);
      void handled.then(
        (taken) => {
          if (taken) return callback();
          // No PUBACK: drop the connection so the broker redelivers after the back-off.
          this.refused = true;
          client.stream?.destroy();
        },
        () => client.stream?.destroy(),
      );
    };
    client.on('connect', (connack) => {
      this.reconnects.reset();
      // A kept session has the subscriptions already; subscribing again is harmless either way.
      if (!connack.sessionPresent) {
        client.subscribe(this.config.topics, { qos: 1 }, (err) => {
          if (err) this.context.logger.error({ source: this.name, err: err.message }, 'mqtt subscribe failed');
        });
      }
    });
    client.on('error', (err) =>
      this.context.logger.warn({ source: this.name, err: err.message }, 'mqtt source connection error'),
    );
    client.on('close', () => this.scheduleReconnect(client));
    this.client = client;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    await this.inFlight;
    // Messages not yet handled are not acknowledged: the broker keeps them for this session.
    await this.client?.endAsync().catch(() => {});
  }

  private scheduleReconnect(client: MqttClient): void {
    if (this.stopping || this.reconnectTimer) return;
    const delay = this.refused ? this.intake.retryDelay() : this.reconnects.next();
    this.refused = false;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopping) client.reconnect();
    }, delay);
  }
}
