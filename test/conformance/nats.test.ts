import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { jsonCodec } from '../../src/event/codecs/json.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { silentLogger } from '../../src/ops/logger.js';
import { natsConfigSchema } from '../../src/sinks/nats/index.js';
import { NatsSink } from '../../src/sinks/nats/natsSink.js';
import { SinkError } from '../../src/sinks/sink.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { runSinkConformance } from './sink.js';

/**
 * The NATS sink against the machine's nats-server (JetStream on), through a TcpProxy so a
 * check can take the server away without stopping it. Every subject and stream is unique to
 * this run and deleted at the end.
 *
 * No `rejectWhere`: NATS cannot be told to refuse single events (a stream or subject accepts
 * every message or none: permissions, a missing stream), so the sink's own per-event refusal
 * (an event missing a subject template field) is checked separately below.
 */
const NATS_PORT = 4222;
const run = randomBytes(4).toString('hex');
const proxy = new TcpProxy(NATS_PORT);
await proxy.start();
const reader: NatsConnection = await connect({ servers: `127.0.0.1:${NATS_PORT}` });
const jsm: JetStreamManager = await jetstreamManager(reader);
const createdStreams = new Set<string>();

after(async () => {
  for (const name of createdStreams) await jsm.streams.delete(name).catch(() => {});
  await reader.close();
  await proxy.stop();
});

function decode(data: Uint8Array): TrackedEvent[] {
  return jsonCodec.decode!(Buffer.from(data)) as TrackedEvent[];
}

// Core NATS: a subscriber connected directly (not through the proxy) is the destination.
{
  const prefix = `beacon-test.${run}.core`;
  let received: TrackedEvent[] = [];
  let sub: Subscription | undefined;
  runSinkConformance('nats (core)', {
    ordered: true,
    config: () => ({
      type: 'nats',
      servers: `nats://127.0.0.1:${proxy.port}`,
      subject: `${prefix}.{type}`,
      timeoutMs: 2000,
    }),
    start: async () => {
      proxy.restore();
      if (!sub) {
        sub = reader.subscribe(`${prefix}.>`, {
          callback: (_err, msg) => {
            received.push(...decode(msg.data));
          },
        });
        await reader.flush();
      }
    },
    stop: async () => proxy.down(),
    reset: async () => {
      await reader.flush();
      received = [];
    },
    readBack: async () => received,
  });
}

// JetStream: the sink creates a fresh stream per check (ids repeat across checks and the
// stream would drop them as duplicates); reading back walks the stream by sequence.
{
  let round = 0;
  let stream = '';
  let subject = '';
  let seen: TrackedEvent[] = [];
  let nextSeq = 1;
  const newRound = () => {
    round++;
    stream = `BEACON_TEST_${run}_${round}`;
    subject = `beacon-test.${run}.js${round}`;
    seen = [];
    nextSeq = 1;
    createdStreams.add(stream);
  };
  runSinkConformance('nats (jetstream)', {
    ordered: true,
    config: () => ({
      type: 'nats',
      servers: `nats://127.0.0.1:${proxy.port}`,
      subject: `${subject}.{type}`,
      jetstream: true,
      stream: { name: stream, subjects: [`${subject}.>`], create: true, storage: 'memory' },
      timeoutMs: 2000,
    }),
    start: async () => proxy.restore(),
    stop: async () => proxy.down(),
    reset: async () => {
      if (stream) await jsm.streams.delete(stream).catch(() => {});
      newRound();
    },
    readBack: async () => {
      const info = await jsm.streams.info(stream).catch(() => undefined);
      if (!info) return seen;
      for (; nextSeq <= info.state.last_seq; nextSeq++) {
        const msg = await jsm.streams.getMessage(stream, { seq: nextSeq });
        if (msg) seen.push(...decode(msg.data));
      }
      return seen;
    },
  });
}

describe('nats sink (JetStream specifics)', () => {
  const event = (i: number, extra: Partial<TrackedEvent> = {}): TrackedEvent => ({
    id: `e${run}-${i}`,
    type: 'js_check',
    ts: Date.now(),
    props: { i },
    meta: {},
    ...extra,
  });
  const sinkFor = (config: Record<string, unknown>) =>
    new NatsSink(
      natsConfigSchema.parse({
        name: 'js-check',
        type: 'nats',
        servers: `nats://127.0.0.1:${NATS_PORT}`,
        timeoutMs: 2000,
        ...config,
      }),
      { name: 'js-check', logger: silentLogger },
    );
  let stream = '';
  let subject = '';
  before(async () => {
    stream = `BEACON_TEST_${run}_SPECIFIC`;
    subject = `beacon-test.${run}.specific`;
    createdStreams.add(stream);
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
  });

  test('stops with a clear message when the configured stream does not exist and create is off', async () => {
    const sink = sinkFor({
      subject: 'x.{type}',
      jetstream: true,
      stream: { name: `BEACON_TEST_${run}_MISSING`, subjects: ['x.>'] },
    });
    await assert.rejects(
      sink.open(),
      (err: unknown) =>
        err instanceof SinkError && err.kind === 'fatal' && /does not exist.*stream\.create: true/.test(err.message),
    );
  });

  test('stops with a clear message when no stream captures the subject', async () => {
    const sink = sinkFor({ subject: `beacon-test.${run}.nowhere.{type}`, jetstream: true });
    await sink.open();
    try {
      await assert.rejects(
        sink.deliver([event(1)]),
        (err: unknown) =>
          err instanceof SinkError &&
          err.kind === 'fatal' &&
          err.errorType === 'no_stream' &&
          /no JetStream stream captures/.test(err.message),
      );
    } finally {
      await sink.close();
    }
  });

  test('a batch sent twice is stored once: Nats-Msg-Id is the event id', async () => {
    const sink = sinkFor({ subject: `${subject}.dedupe`, jetstream: true });
    await sink.open();
    const batch = Array.from({ length: 20 }, (_, i) => event(i));
    await sink.deliver(batch);
    await sink.deliver(batch);
    await sink.close();
    const info = await jsm.streams.info(stream, { subjects_filter: `${subject}.dedupe` });
    assert.equal(info.state.subjects?.[`${subject}.dedupe`], 20);
  });

  test('an event missing a subject field is rejected by index and the rest are stored', async () => {
    const sink = sinkFor({ subject: `${subject}.by-app.{props.app}`, jetstream: true });
    await sink.open();
    const batch = [
      event(100, { props: { app: 'a' } }),
      event(101, { props: {} }),
      event(102, { props: { app: 'b.c' } }),
    ];
    const err = await sink.deliver(batch).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sink.close();
    assert.ok(err instanceof SinkError && err.kind === 'reject');
    assert.deepEqual(
      err.rejected?.map((r) => r.index),
      [1],
    );
    assert.match(err.rejected![0]!.reason, /props\.app/);
    const info = await jsm.streams.info(stream, { subjects_filter: `${subject}.by-app.>` });
    // A '.' in a value would add a subject token: it is replaced.
    assert.deepEqual(Object.keys(info.state.subjects ?? {}).sort(), [`${subject}.by-app.a`, `${subject}.by-app.b_c`]);
  });
});
