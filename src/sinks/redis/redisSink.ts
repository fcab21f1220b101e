import type { TrackedEvent } from '../../event/trackedEvent.js';
import { getCodec } from '../../event/codecs/registry.js';
import type { Codec } from '../../event/codecs/codec.js';
import { compileTemplate, routeBatch, type EventTemplate } from '../eventTemplate.js';
import { SinkError, type Sink, type SinkContext, type SinkDeadlines, closeOrDestroy } from '../sink.js';
import type { RedisSinkConfig } from './index.js';
import { redis } from '../../net/redisClient.js';
import { classifyRedisError } from './redisErrors.js';

function newClient(config: RedisSinkConfig, name: string) {
  return redis().createClient({
    url: config.url,
    password: config.password,
    name: `beacon-sink-${name}`,
    disableOfflineQueue: true,
    socket: { connectTimeout: config.timeoutMs, reconnectStrategy: false },
  });
}
type RedisClient = ReturnType<typeof newClient>;

/**
 * Sends each batch in one round trip: a MULTI/EXEC transaction (default: the batch appears
 * all at once, and a connection cut before EXEC leaves nothing behind) or a plain pipeline.
 *
 * - A lost connection fails the attempt with `reconnect`; the client's own reconnect and
 *   offline queue are off so the dispatcher owns back-off and nothing is queued unseen.
 * - A command Redis refuses at run time (`WRONGTYPE`: the key holds another type) refuses only
 *   the events routed to that key when the key is templated: those are dead-lettered by index
 *   and the rest count as delivered (Redis applies the other commands of the transaction).
 *   With a constant key every event would fail, so the sink stops (`fatal`).
 */
export class RedisSink implements Sink {
  private readonly codec: Codec;
  private readonly key: EventTemplate;
  private client: RedisClient | undefined;
  readonly deadlines: SinkDeadlines;

  constructor(
    private readonly config: RedisSinkConfig,
    private readonly context: Pick<SinkContext, 'name' | 'logger'>,
  ) {
    this.codec = getCodec(config.codec);
    this.key = compileTemplate(config.key);
    this.deadlines = {
      // A batch's replies past timeoutMs: the connection is replaced.
      attemptMs: config.timeoutMs,
      timedOut: (ms) => new SinkError('reconnect', `no answer from redis within ${ms} ms`, { errorType: 'timeout' }),
      closeMs: config.timeoutMs,
    };
  }

  async open(): Promise<void> {
    const client = newClient(this.config, this.context.name);
    // Errors reach `deliver` through the commands they fail; the event only needs a listener.
    client.on('error', (err: Error) =>
      this.context.logger.debug({ sink: this.context.name, err: err.message }, 'redis connection error'),
    );
    try {
      await client.connect();
    } catch (err) {
      client.destroy();
      throw classifyRedisError(err, 'connecting');
    }
    this.client = client;
  }

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const client = this.client;
    if (!client?.isReady)
      throw new SinkError('reconnect', 'redis sink is not connected', { errorType: 'not_connected' });
    const { routed, unroutable: rejected } = routeBatch(this.key, 'key', batch);
    const sent = routed.map(({ index }) => index);
    const multi = client.multi();
    for (const { event, destination } of routed) multi.addCommand(this.command(destination, this.codec.encode(event)));
    if (sent.length > 0) {
      try {
        await (this.config.transaction ? multi.exec() : multi.execAsPipeline());
      } catch (err) {
        const refused = this.refusedByKey(err);
        if (!refused)
          throw classifyRedisError(
            err,
            this.config.mode === 'stream'
              ? 'XADD'
              : this.config.mode === 'list'
                ? this.config.push.toUpperCase()
                : 'PUBLISH',
          );
        for (const { at, reason } of refused) rejected.push({ index: sent[at]!, reason });
      }
    }
    if (rejected.length > 0) {
      rejected.sort((a, b) => a.index - b.index);
      throw new SinkError('reject', `redis refused ${rejected.length} event(s): ${rejected[0]!.reason}`, {
        errorType: 'redis_key',
        rejected,
      });
    }
  }

  /** Waits for the replies in flight; the loop's close deadline (timeoutMs) destroys the socket. */
  async close(signal: AbortSignal = AbortSignal.timeout(this.config.timeoutMs)): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client?.isOpen) return;
    await closeOrDestroy(signal, client.close(), () => client.destroy());
  }

  private command(key: string, payload: Buffer): (string | Buffer)[] {
    const { mode } = this.config;
    if (mode === 'list') return [this.config.push.toUpperCase(), key, payload];
    if (mode === 'pubsub') return ['PUBLISH', key, payload];
    const trim = this.config.maxLen === undefined ? [] : ['MAXLEN', '~', String(this.config.maxLen)];
    return ['XADD', key, ...trim, '*', this.config.field, payload];
  }

  /** With a templated key, WRONGTYPE replies name the commands (events) whose key cannot take them. */
  private refusedByKey(err: unknown): { at: number; reason: string }[] | undefined {
    if (this.key.constant || !(err instanceof redis().MultiErrorReply)) return undefined;
    const refused = err.errorIndexes.map((at) => ({ at, reason: err.replies[at]?.message ?? 'refused' }));
    return refused.every((r) => r.reason.startsWith('WRONGTYPE')) ? refused : undefined;
  }
}
