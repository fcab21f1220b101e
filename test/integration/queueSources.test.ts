import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { createClient } from 'redis';
import { connectAsync, type MqttClient } from 'mqtt';
import { lineCodec } from '../../src/event/codecs/line.js';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitForValue, type WaitDescription } from '../support/waitFor.js';

/**
 * Beacon as a real process reading the machine's NATS (core and JetStream), Redis (list and
 * stream) and Mosquitto, writing to a file sink. Every subject, stream, key and topic is
 * unique to this run and removed at the end; the shared servers are never stopped.
 */
const run = randomBytes(4).toString('hex');
const names = {
  stream: `BEACON_QS_${run}`,
  jsSubject: `beacon-qs.${run}.js`,
  coreSubject: `beacon-qs.${run}.core`,
  list: `beacon-qs:${run}:list`,
  redisStream: `beacon-qs:${run}:stream`,
  topic: `beacon-qs/${run}`,
};

const waitFor = <T>(what: WaitDescription, fn: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 50) =>
  waitForValue(what, fn, timeoutMs, everyMs);

async function jsonLines(path: string): Promise<Record<string, unknown>[]> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

describe('queue sources (nats, redis, mqtt) in a running Beacon', () => {
  let beacon: BeaconProcess;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let redis: ReturnType<typeof createClient>;
  let mqtt: MqttClient;
  let out: string;

  const published = {
    natsJs: (body: string) => jetstream(nc).publish(`${names.jsSubject}.in`, body),
    natsCore: async (body: string) => {
      // Sent as a request: the source answers only once the events are durable.
      await nc.request(names.coreSubject, body, { timeout: 5000 });
    },
    redisList: (body: string) => redis.lPush(names.list, body),
    redisStream: (body: string) => redis.xAdd(names.redisStream, '*', { event: body }),
    mqtt: (body: string) => mqtt.publishAsync(`${names.topic}/in`, body, { qos: 1 }),
  };

  before(async () => {
    nc = await connect({ servers: '127.0.0.1:4222' });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: names.stream, subjects: [`${names.jsSubject}.>`] });
    redis = createClient({ url: 'redis://127.0.0.1:6379' });
    await redis.connect();
    mqtt = await connectAsync('mqtt://127.0.0.1:1883', { clientId: `beacon-qs-pub-${run}` });
    beacon = await startBeacon({
      sinks: [
        {
          name: 'archive',
          type: 'file',
          path: 'out/events.ndjson',
          codec: 'json',
          batch: { maxEvents: 100, maxWaitMs: 20 },
        },
      ],
      sources: [
        {
          name: 'nats-js',
          type: 'nats',
          subject: `${names.jsSubject}.>`,
          jetstream: { stream: names.stream, durable: `beacon-qs-${run}` },
        },
        { name: 'nats-core', type: 'nats', subject: names.coreSubject, queue: 'beacon' },
        { name: 'redis-list', type: 'redis', mode: 'list', key: names.list, blockMs: 200 },
        { name: 'redis-stream', type: 'redis', mode: 'stream', key: names.redisStream, blockMs: 200 },
        { name: 'mqtt', type: 'mqtt', topics: [`${names.topic}/#`], clientId: `beacon-qs-${run}` },
      ],
    });
    out = join(beacon.dataDir, 'out', 'events.ndjson');
    // The MQTT and NATS core subscriptions are made after Beacon is ready, and neither keeps a
    // message published before them (a fixed pause was too short on a loaded CI machine):
    // send a probe through each until one arrives, so the tests' messages cannot be lost.
    for (const via of ['mqtt', 'natsCore'] as const) {
      let probes = 0;
      await waitFor(
        () => `a probe through ${via} in the file sink (${probes} sent)`,
        async () => {
          const lines = await jsonLines(out);
          if (lines.some((e) => e.type === 'probe' && (e.props as { via?: string }).via === via)) return true;
          probes++;
          // Before the NATS subscription a request fails with "no responders"; the next probe retries.
          await published[via](JSON.stringify({ type: 'probe', props: { via } })).catch(() => undefined);
          return undefined;
        },
        30_000,
        200,
      );
    }
  });

  after(async () => {
    const code = await beacon?.stop();
    await jsm?.streams.delete(names.stream).catch(() => {});
    const keys = await redis?.keys(`beacon-qs:${run}:*`);
    if (keys?.length) await redis.del(keys);
    await redis?.close();
    await nc?.close();
    // Remove the persistent session the source left on the broker.
    const cleaner = await connectAsync('mqtt://127.0.0.1:1883', { clientId: `beacon-qs-${run}`, clean: true }).catch(
      () => undefined,
    );
    await cleaner?.endAsync();
    await mqtt?.endAsync();
    await beacon?.cleanup();
    assert.equal(code, 0, `beacon did not exit 0:\n${beacon?.output()}`);
  });

  it('writes a message from every source to the file sink, tagged with its source', async () => {
    for (const [source, publish] of Object.entries(published)) {
      await publish(JSON.stringify({ type: 'queued', id: `${source}-${run}`, props: { via: source } }));
    }
    const lines = await waitFor('an event from every source', async () => {
      const got = (await jsonLines(out)).filter((e) => e.type === 'queued');
      return got.length >= 5 ? got : undefined;
    });
    const bySource = Object.fromEntries(lines.map((e) => [(e.meta as Record<string, unknown>).source, e]));
    assert.deepEqual(Object.keys(bySource).sort(), ['mqtt', 'nats-core', 'nats-js', 'redis-list', 'redis-stream']);
    assert.deepEqual(bySource['redis-list']!.props, { via: 'redisList' });
    assert.equal(bySource['nats-js']!.id, `natsJs-${run}`);
  });

  it('dead-letters a malformed message to dlq/source-<name>.ndjson and keeps reading', async () => {
    for (const publish of Object.values(published)) await publish('{"type": "broken", ');
    for (const [source, publish] of Object.entries(published))
      await publish(JSON.stringify({ type: 'after_bad', props: { via: source } }));
    await waitFor('the events after the malformed ones', async () =>
      (await jsonLines(out)).filter((e) => e.type === 'after_bad').length >= 5 ? true : undefined,
    );
    for (const name of ['nats-js', 'nats-core', 'redis-list', 'redis-stream', 'mqtt']) {
      const entries = await waitFor(`the dead letter of ${name}`, async () => {
        const got = await jsonLines(join(beacon.dataDir, 'dlq', `source-${name}.ndjson`));
        return got.length > 0 ? got : undefined;
      });
      assert.equal(entries.length, 1, name);
      assert.equal(entries[0]!.source, name);
      assert.equal(entries[0]!.code, 'BEACON_E_BAD_JSON');
      assert.equal(entries[0]!.payload, '{"type": "broken", ');
    }
  });

  it('acknowledges what it took: nothing left pending in JetStream or the Redis processing list', async () => {
    await waitFor('acks to settle', async () => {
      const info = await jsm.consumers.info(names.stream, `beacon-qs-${run}`);
      const processing = await redis.lLen(`${names.list}:processing:redis-list`);
      const pending = await redis.xPending(names.redisStream, 'beacon');
      return info.num_ack_pending === 0 && info.num_pending === 0 && processing === 0 && Number(pending.pending) === 0
        ? true
        : undefined;
    });
  });

  it('the Pushtech chain: line records pushed to a Redis list come out as JSON events', async () => {
    // The consumer message from the Pushtech seed, as its tracker pushed it to Redis.
    const seed =
      'app_open type=Desktop&browser=Firefox&engine=Gecko&version=56.0&os=Mac&host=192.168.64.2&ts=1510826008003&ip=ffffac110001&klag=266&country=XX&city=XX deviceid=abcdf&ts=123456&referrer=website';
    // And one written by Beacon's own `line` codec (what a redis sink with `codec: line` pushes).
    const own = lineCodec
      .encode({
        id: `line-${run}`,
        type: 'app_close',
        ts: 1510826009000,
        props: { deviceid: 'abcdf', seconds: 42 },
        meta: { country: 'XX' },
      })
      .toString();
    await redis.lPush(names.list, [seed, own]);
    const [open, close] = await waitFor('both line records as JSON', async () => {
      const lines = await jsonLines(out);
      const a = lines.find((e) => e.type === 'app_open');
      const b = lines.find((e) => e.type === 'app_close');
      return a && b ? [a, b] : undefined;
    });
    assert.deepEqual(open!.props, { deviceid: 'abcdf', ts: 123456, referrer: 'website' });
    assert.equal((open!.meta as Record<string, unknown>).source, 'redis-list');
    assert.equal(close!.id, `line-${run}`);
    assert.deepEqual(close!.props, { deviceid: 'abcdf', seconds: 42 });
  });
});
