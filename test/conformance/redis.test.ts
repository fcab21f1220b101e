import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { jsonCodec } from '../../src/event/codecs/json.js';
import { lineCodec } from '../../src/event/codecs/line.js';
import type { Codec } from '../../src/event/codecs/codec.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import { redisConfigSchema } from '../../src/sinks/redis/index.js';
import { RedisSink } from '../../src/sinks/redis/redisSink.js';
import { SinkError } from '../../src/sinks/sink.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { waitUntil } from '../support/waitFor.js';
import { runSinkConformance } from './sink.js';

/**
 * The Redis sink against the machine's Redis, through a TcpProxy so a check can take the
 * server away without stopping it. Keys are unique to this run and deleted at the end.
 *
 * No `rejectWhere`: Redis accepts any value into a stream or list; the only per-event refusal
 * is a templated key that holds another type (WRONGTYPE), and its reason is Redis's own text,
 * so it is checked separately below instead of through the shared check.
 */
const REDIS_PORT = 6379;
const run = randomBytes(4).toString('hex');
const prefix = `beacon-test:${run}`;
const proxy = new TcpProxy(REDIS_PORT);
await proxy.start();
const redis = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` });
await redis.connect();

after(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(keys);
  await redis.close();
  await proxy.stop();
});

function decodeAll(codec: Codec, payloads: string[]): TrackedEvent[] {
  return payloads.flatMap((p) => codec.decode!(Buffer.from(p, 'utf8')) as TrackedEvent[]);
}

const variants = [
  { label: 'redis (stream)', extra: { mode: 'stream' }, codec: jsonCodec },
  {
    label: 'redis (stream, pipeline, maxLen)',
    extra: { mode: 'stream', transaction: false, maxLen: 100_000 },
    codec: jsonCodec,
  },
  { label: 'redis (list, lpush)', extra: { mode: 'list', push: 'lpush' }, codec: jsonCodec },
  // The Pushtech shape: `line` records in a list, read back with the line decoder a consumer would use.
  { label: 'redis (list, rpush, line codec)', extra: { mode: 'list', push: 'rpush', codec: 'line' }, codec: lineCodec },
];

for (const variant of variants) {
  let round = 0;
  let key = '';
  runSinkConformance(variant.label, {
    ordered: true,
    config: () => ({ type: 'redis', url: `redis://127.0.0.1:${proxy.port}`, key, timeoutMs: 2000, ...variant.extra }),
    start: async () => proxy.restore(),
    stop: async () => proxy.down(),
    reset: async () => {
      round++;
      key = `${prefix}:${variant.label.replace(/[^a-z]+/g, '-')}:${round}`;
    },
    readBack: async () => {
      if (variant.extra.mode === 'stream') {
        const entries = await redis.xRange(key, '-', '+');
        return decodeAll(
          variant.codec,
          (entries ?? []).map((e) => String(e.message.event)),
        );
      }
      const items = await redis.lRange(key, 0, -1);
      return decodeAll(variant.codec, variant.extra.push === 'lpush' ? items.reverse() : items);
    },
  });
}

describe('redis sink (specifics)', () => {
  const event = (i: number, props: Record<string, unknown> = { i }): TrackedEvent => ({
    id: `r${i}`,
    type: 'redis_check',
    ts: Date.now(),
    props,
    meta: {},
  });
  const sinkFor = (config: Record<string, unknown>) =>
    new RedisSink(
      redisConfigSchema.parse({
        name: 'redis-check',
        type: 'redis',
        url: `redis://127.0.0.1:${REDIS_PORT}`,
        timeoutMs: 2000,
        ...config,
      }),
      { name: 'redis-check', logger: silentLogger },
    );

  test('a templated key that holds another type refuses only the events routed to it', async () => {
    await redis.set(`${prefix}:wrong:b`, 'a string, not a stream');
    const sink = sinkFor({ key: `${prefix}:wrong:{props.app}` });
    await sink.open();
    const err = await sink.deliver([event(1, { app: 'a' }), event(2, { app: 'b' }), event(3, { app: 'a' })]).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sink.close();
    assert.ok(err instanceof SinkError && err.kind === 'reject', String(err));
    assert.deepEqual(
      err.rejected?.map((r) => r.index),
      [1],
    );
    assert.match(err.rejected![0]!.reason, /WRONGTYPE/);
    assert.equal(await redis.xLen(`${prefix}:wrong:a`), 2);
  });

  test('a constant key that holds another type stops the sink with a hint', async () => {
    await redis.set(`${prefix}:wrong:constant`, 'x');
    const sink = sinkFor({ key: `${prefix}:wrong:constant` });
    await sink.open();
    const err = await sink.deliver([event(1)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sink.close();
    assert.ok(err instanceof SinkError && err.kind === 'fatal', String(err));
    assert.match(err.message, /WRONGTYPE.*another type/);
  });

  test('pubsub mode publishes each event to its channel', async () => {
    const subscriber = redis.duplicate();
    await subscriber.connect();
    const got: TrackedEvent[] = [];
    await subscriber.subscribe(`${prefix}:channel:redis_check`, (message) =>
      got.push(...decodeAll(jsonCodec, [message])),
    );
    const sink = sinkFor({ mode: 'pubsub', key: `${prefix}:channel:{type}` });
    await sink.open();
    await sink.deliver([event(1), event(2)]);
    await sink.close();
    // Redis forwards to the subscriber after the sink's PUBLISH returns: wait for it (the 1 s
    // this loop used to allow is short on a loaded machine).
    await waitUntil(
      () => `two messages at the subscriber (got ${got.length})`,
      () => got.length >= 2,
    );
    await subscriber.close();
    assert.deepEqual(
      got.map((e) => e.id),
      ['r1', 'r2'],
    );
  });

  test('a server that is down is a reconnect, not a fatal error', async () => {
    const down = new TcpProxy(REDIS_PORT);
    await down.start();
    down.down();
    const sink = new RedisSink(
      redisConfigSchema.parse({
        name: 'redis-down',
        type: 'redis',
        url: `redis://127.0.0.1:${down.port}`,
        key: 'k',
        timeoutMs: 1000,
      }),
      { name: 'redis-down', logger: silentLogger },
    );
    await assert.rejects(sink.open(), (err: unknown) => err instanceof SinkError && err.kind === 'reconnect');
    await down.stop();
  });
});
