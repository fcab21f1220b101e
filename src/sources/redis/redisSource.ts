import { hostname } from 'node:os';
import { redis } from '../../net/redisClient.js';
import { systemClock } from '../../ops/clock.js';
import { QueueSource } from '../queueIntake.js';
import type { Emit, SourceContext } from '../source.js';
import type { RedisSourceConfig } from './index.js';

function newClient(config: RedisSourceConfig, name: string) {
  return redis().createClient({
    url: config.url,
    password: config.password,
    name: `beacon-source-${name}`,
    // Reconnect with exponential back-off (0.1 s doubling to 5 s, with jitter), forever.
    socket: {
      reconnectStrategy: (retries: number) =>
        Math.round(Math.min(5_000, 100 * 2 ** retries) * (0.5 + Math.random() / 2)),
    },
  });
}
type RedisClient = ReturnType<typeof newClient>;

/**
 * Takes messages from Redis and acknowledges them only after their events are durable.
 *
 * - list: `BLMOVE key processing` moves a message into this source's processing list before it
 *   is read, then up to `batch - 1` more are moved without blocking; after `emit` resolved they
 *   are removed from the processing list (`LREM`). A crash leaves them in the processing list,
 *   and the next start takes them first: nothing is lost, some may be emitted twice.
 * - stream: `XREADGROUP` with a consumer group; `XACK` after `emit` resolved. On start, and
 *   after `emit` was refused, this consumer's pending entries are read again first.
 * - `emit` refused (log full): the messages stay unacknowledged and the source waits, with
 *   growing back-off, before trying them again.
 */
export class RedisSource extends QueueSource<RedisSourceConfig> {
  private readonly processingKey: string;
  private readonly consumer: string;
  private client: RedisClient | undefined;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  /** A batch being emitted and acknowledged; stop() waits for it. */
  private inFlight: Promise<unknown> | undefined;

  constructor(config: RedisSourceConfig, context: SourceContext) {
    super(config, context);
    this.processingKey = config.processingKey ?? `${config.key}:processing:${context.name}`;
    this.consumer = config.consumer ?? `${hostname()}-${context.name}`;
  }

  async start(emit: Emit): Promise<void> {
    const client = newClient(this.config, this.name);
    let lastError = '';
    client.on('error', (err: Error) => {
      // One line per distinct error, not one per reconnect attempt.
      if (err.message !== lastError)
        this.context.logger.warn(
          { source: this.name, err: err.message },
          'redis source connection error; reconnecting',
        );
      lastError = err.message;
    });
    client.on('ready', () => (lastError = ''));
    this.client = client;
    // Connecting happens in the loop, so a Redis that is down does not hold up Beacon's start.
    this.loop = this.run(client, emit);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.inFlight;
    // A blocking read still waiting is cut; a message it moved stays in the processing list (or pending) for next time.
    this.client?.destroy();
    await this.loop;
  }

  private async run(client: RedisClient, emit: Emit): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        if (!client.isOpen) await client.connect();
        if (this.config.mode === 'list') await this.runList(client, emit, signal);
        else await this.runStream(client, emit, signal);
      } catch (err) {
        if (signal.aborted) break;
        this.context.logger.warn(
          { source: this.name, err: (err as Error).message },
          'redis source read failed; retrying',
        );
        await systemClock.sleep(this.intake.retryDelay(), signal);
      }
    }
  }

  private async runList(client: RedisClient, emit: Emit, signal: AbortSignal): Promise<void> {
    const { key, pop, batch, blockMs } = this.config;
    const from = pop === 'right' ? 'RIGHT' : 'LEFT';
    // Messages a previous run moved but did not finish: oldest first (the processing list grows at its head).
    const leftOver = (await client.lRange(this.processingKey, 0, -1)).reverse();
    for (let i = 0; i < leftOver.length && !signal.aborted; i += batch)
      await this.settle(leftOver.slice(i, i + batch), emit, signal, (done) => this.removeProcessed(client, done));
    while (!signal.aborted) {
      const first = await client.blMove(key, this.processingKey, from, 'LEFT', blockMs / 1000);
      if (first === null) continue;
      const messages = [first];
      while (messages.length < batch) {
        const next = await client.lMove(key, this.processingKey, from, 'LEFT');
        if (next === null) break;
        messages.push(next);
      }
      await this.settle(messages, emit, signal, (done) => this.removeProcessed(client, done));
    }
  }

  private async removeProcessed(client: RedisClient, messages: readonly string[]): Promise<void> {
    const multi = client.multi();
    for (const message of messages) multi.lRem(this.processingKey, 1, message);
    await multi.exec();
  }

  private async runStream(client: RedisClient, emit: Emit, signal: AbortSignal): Promise<void> {
    const { key, group, field, batch, blockMs } = this.config;
    try {
      await client.xGroupCreate(key, group, this.config.start === 'earliest' ? '0' : '$', { MKSTREAM: true });
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
    // Our pending entries first (delivered to us before, never acknowledged), from the start.
    let pendingFrom: string | undefined = '0';
    while (!signal.aborted) {
      const reply = await client.xReadGroup(
        group,
        this.consumer,
        { key, id: pendingFrom ?? '>' },
        pendingFrom ? { COUNT: batch } : { COUNT: batch, BLOCK: blockMs },
      );
      const entries = reply?.[0]?.messages ?? [];
      if (entries.length === 0) {
        pendingFrom = undefined;
        continue;
      }
      const payloads: string[] = [];
      const ids: string[] = [];
      for (const entry of entries) {
        const value = entry.message[field];
        ids.push(entry.id);
        if (value === undefined)
          await this.context.deadLetter(
            JSON.stringify(entry.message),
            'BEACON_E_BAD_EVENT',
            `stream entry ${entry.id} has no field "${field}"`,
          );
        else payloads.push(String(value));
      }
      const acked = await this.settle(payloads, emit, signal, async () => {
        await client.xAck(key, group, ids);
      });
      if (pendingFrom !== undefined) pendingFrom = ids[ids.length - 1]!;
      // Refused and stopping: what was read stays pending for the next start.
      if (!acked) break;
    }
  }

  /**
   * Emits the messages' events and then acknowledges them; while the log refuses, waits with
   * back-off and tries the same messages again. False when stopped before they were taken.
   */
  private async settle(
    messages: readonly string[],
    emit: Emit,
    signal: AbortSignal,
    ack: (messages: readonly string[]) => Promise<void>,
  ): Promise<boolean> {
    for (;;) {
      const attempt = this.intake.take(messages, emit).then(async (taken) => {
        if (taken) await ack(messages);
        return taken;
      });
      this.inFlight = attempt.catch(() => {});
      const taken = await attempt;
      this.inFlight = undefined;
      if (taken) return true;
      await systemClock.sleep(this.intake.retryDelay(), signal);
      if (signal.aborted) return false;
    }
  }
}
