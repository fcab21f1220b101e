import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Connection, type Publisher } from 'rabbitmq-client';
import { BeaconError } from '../../src/errors/beaconError.js';
import { silentLogger } from '../../src/ops/logger.js';
import { AmqpSource } from '../../src/sources/amqp/amqpSource.js';
import { amqpConfigSchema } from '../../src/sources/amqp/index.js';
import type { SourceContext } from '../../src/sources/source.js';
import { configSchema } from '../../src/config/schema.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { Registry } from 'prom-client';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { createRecordingEmit } from '../support/recordingEmit.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * The amqp source against the machine's real RabbitMQ: Beacon as a real process consuming a
 * queue into a file sink, and the source on its own with an emit the test controls. Queue
 * names are unique per run and deleted after.
 */

const RUN = randomUUID().slice(0, 8);
const admin = new Connection({ url: 'amqp://guest:guest@127.0.0.1:5672', retryLow: 200, retryHigh: 1000 });
let publisher: Publisher;
const queues: string[] = [];

function queueName(label: string): string {
  const q = `beacon-test-${RUN}-${label}`;
  queues.push(q);
  return q;
}

async function publish(queue: string, body: string | object, contentType = 'application/json'): Promise<void> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  await publisher.send({ routingKey: queue, durable: true, contentType }, Buffer.from(text));
}

async function readyCount(queue: string): Promise<number> {
  return (await admin.queueDeclare({ queue, passive: true })).messageCount;
}

async function fileEvents(
  path: string,
): Promise<{ id: string; type: string; props: Record<string, unknown>; meta: Record<string, unknown> }[]> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

async function dlqEntries(path: string): Promise<{ source: string; code: string; reason: string; payload: string }[]> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

const waitFor = (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) =>
  waitUntil(what, check, timeoutMs);

before(async () => {
  await admin.onConnect(5000);
  publisher = admin.createPublisher({ confirm: true });
});

after(async () => {
  await publisher.close();
  for (const queue of queues) await admin.queueDelete({ queue }).catch(() => {});
  await admin.close();
});

function beaconConfig(queue: string) {
  return {
    sources: [
      {
        name: 'rabbit-in',
        type: 'amqp',
        host: '127.0.0.1',
        port: 5672,
        queue,
        declare: { durable: true },
        prefetch: 50,
      },
    ],
    sinks: [
      {
        name: 'archive',
        type: 'file',
        path: 'out/events.ndjson',
        codec: 'json',
        batch: { maxEvents: 500, maxWaitMs: 20 },
      },
    ],
  };
}

describe('amqp source in a running Beacon', () => {
  let beacon: BeaconProcess;
  let queue: string;
  let out: string;
  let dlq: string;

  before(async () => {
    queue = queueName('in');
    beacon = await startBeacon(beaconConfig(queue));
    out = join(beacon.dataDir, 'out', 'events.ndjson');
    dlq = join(beacon.dataDir, 'dlq', 'source-rabbit-in.ndjson');
    await waitFor('the queue to be declared', () =>
      readyCount(queue).then(
        () => true,
        () => false,
      ),
    );
  });

  after(async () => {
    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    await beacon.cleanup();
  });

  it('writes the events of every payload format published to the queue to the file sink', async () => {
    await publish(queue, { type: 'signup', id: `${RUN}-one`, props: { plan: 'pro' } });
    await publish(queue, [
      { type: 'click', id: `${RUN}-arr-1` },
      { type: 'click', id: `${RUN}-arr-2` },
    ]);
    await publish(
      queue,
      `{"type":"view","id":"${RUN}-nd-1"}\n{"type":"view","id":"${RUN}-nd-2"}\n`,
      'application/x-ndjson',
    );
    await publish(queue, 'app_open id=' + `${RUN}-line` + ' deviceid=abcdf&referrer=website', 'text/plain');
    const want = [`${RUN}-one`, `${RUN}-arr-1`, `${RUN}-arr-2`, `${RUN}-nd-1`, `${RUN}-nd-2`, `${RUN}-line`];
    await waitFor('all six events in the file', async () => {
      const ids = new Set((await fileEvents(out)).map((e) => e.id));
      return want.every((id) => ids.has(id));
    });
    const events = await fileEvents(out);
    const signup = events.find((e) => e.id === `${RUN}-one`)!;
    assert.deepEqual(signup.props, { plan: 'pro' });
    assert.equal(signup.meta.source, 'rabbit-in');
    assert.deepEqual(signup.meta.amqp, { exchange: '', routingKey: queue });
    assert.equal(events.find((e) => e.id === `${RUN}-line`)!.props.deviceid, 'abcdf');
    await waitFor('the queue to be empty (every message acked)', async () => (await readyCount(queue)) === 0);
  });

  it('dead-letters malformed messages with the reason and keeps the queue flowing', async () => {
    await publish(queue, '{"type": "broken", ', 'application/json');
    await publish(queue, { props: { no: 'type' } });
    await publish(queue, [{ type: 'ok', id: `${RUN}-good-1` }, { type: 42 }, { type: 'ok', id: `${RUN}-good-2` }]);
    await publish(queue, { type: 'after', id: `${RUN}-after` });
    await waitFor('the message after the bad ones', async () =>
      (await fileEvents(out)).some((e) => e.id === `${RUN}-after`),
    );
    await waitFor('three dead-letter entries', async () => (await dlqEntries(dlq)).length >= 3);
    const ids = new Set((await fileEvents(out)).map((e) => e.id));
    assert.ok(
      ids.has(`${RUN}-good-1`) && ids.has(`${RUN}-good-2`),
      'the good parts of a partly bad message are emitted',
    );
    const entries = await dlqEntries(dlq);
    assert.deepEqual(
      entries.map((e) => e.code),
      ['BEACON_E_BAD_JSON', 'BEACON_E_BAD_EVENT', 'BEACON_E_BAD_EVENT'],
    );
    assert.match(entries[0]!.reason, /not valid JSON/);
    assert.equal(entries[0]!.payload, '{"type": "broken", ');
    assert.match(entries[1]!.reason, /"type" must be a string/);
    assert.match(entries[2]!.reason, /part 1 of the message: "type" must be a string/);
    assert.equal(entries[2]!.payload, '{"type":42}', 'only the bad part is dead-lettered');
    assert.ok(entries.every((e) => e.source === 'rabbit-in'));
    await waitFor('the queue to be empty', async () => (await readyCount(queue)) === 0);
  });
});

describe('amqp source acknowledgements', () => {
  it('loses nothing when Beacon is killed with -9 right after the messages are published', async (t) => {
    const queue = queueName('kill');
    await admin.queueDeclare({ queue, durable: true });
    const beacon = await startBeacon(beaconConfig(queue));
    const out = join(beacon.dataDir, 'out', 'events.ndjson');
    try {
      const total = 10_000;
      const sends: Promise<void>[] = [];
      for (let i = 0; i < total; i += 10) {
        sends.push(
          publish(
            queue,
            Array.from({ length: 10 }, (_, k) => ({ type: 'burst', id: `${RUN}-k-${i + k}` })),
          ),
        );
      }
      await Promise.all(sends);
      // Kill as soon as consumption is under way: some messages are in flight, unacked.
      await waitFor('consumption to start', async () => (await fileEvents(out)).length > 0, 10_000);
      const waiting = await readyCount(queue);
      await beacon.kill9();
      const before = new Set((await fileEvents(out)).map((e) => e.id)).size;
      await beacon.restart();
      await waitFor(
        'every event after the restart',
        async () => new Set((await fileEvents(out)).map((e) => e.id)).size === total,
        60_000,
      );
      await waitFor('the queue to be empty', async () => (await readyCount(queue)) === 0);
      const got = (await fileEvents(out)).map((e) => e.id);
      const ids = new Set(got);
      for (let i = 0; i < total; i++) assert.ok(ids.has(`${RUN}-k-${i}`), `event ${i} arrived`);
      t.diagnostic(
        `in the file before the kill: ${before} of ${total}; messages still in the queue: ${waiting} of ${total / 10}; duplicates after the restart: ${got.length - ids.size}`,
      );
    } finally {
      await beacon.stop();
      await beacon.cleanup();
    }
  });

  function sourceContext(deadLettered: unknown[]): SourceContext {
    const limits = configSchema.parse({}).server.limits;
    return {
      name: 'direct',
      dataDir: '/nonexistent',
      logger: silentLogger,
      metrics: createMetrics(new Registry()),
      limits,
      deadLetter: async (payload, code, reason) => {
        deadLettered.push({ payload: payload.toString(), code, reason });
      },
    };
  }

  it('acks a message only after emit resolved: a connection lost before that redelivers it', async () => {
    const queue = queueName('held');
    await admin.queueDeclare({ queue, durable: true });
    const proxy = new TcpProxy(5672);
    await proxy.start();
    const recording = createRecordingEmit();
    const source = new AmqpSource(
      amqpConfigSchema.parse({
        type: 'amqp',
        name: 'direct',
        host: '127.0.0.1',
        port: proxy.port,
        queue,
        maxBackoff: 500,
      }) as never,
      sourceContext([]),
    );
    try {
      recording.hold();
      await source.start(recording.emit);
      await publish(queue, { type: 'held', id: `${RUN}-held` });
      await recording.waitForPending(1, 10_000);
      assert.equal(await readyCount(queue), 0, 'delivered to Beacon, not yet acked');
      proxy.cut();
      // The broker got no ack, so the lost connection puts the message back in the queue.
      await waitFor('the unacked message to be back in the queue', async () => (await readyCount(queue)) === 1);
      // The emit in flight resolves; its ack is lost with the channel, and the client only
      // consumes again once that handler settled: the message comes back and is emitted again.
      recording.release();
      await waitFor(
        'the redelivered message to be acked',
        async () => (await readyCount(queue)) === 0 && recording.durable.length === 2,
      );
      assert.deepEqual(
        recording.calls.map((c) => c[0]!.id),
        [`${RUN}-held`, `${RUN}-held`],
        'redelivered after the connection was lost',
      );
    } finally {
      await source.stop();
      await proxy.stop();
    }
    assert.equal(await readyCount(queue), 0);
  });

  it('requeues a message the log refuses and takes it again once the log accepts', async () => {
    const queue = queueName('refused');
    await admin.queueDeclare({ queue, durable: true });
    const recording = createRecordingEmit();
    recording.failWith(new BeaconError('BEACON_E_LOG_FULL', 'the log is full'));
    const source = new AmqpSource(
      amqpConfigSchema.parse({ type: 'amqp', name: 'direct', host: '127.0.0.1', queue, maxBackoff: 300 }) as never,
      sourceContext([]),
    );
    await source.start(recording.emit);
    try {
      await publish(queue, { type: 'refused', id: `${RUN}-refused` });
      await waitFor('two refused attempts', () => recording.calls.length >= 2);
      assert.equal(recording.durable.length, 0);
      recording.failWith(undefined);
      await waitFor('the message to be taken', () => recording.durable.length === 1);
      await waitFor('the queue to be empty', async () => (await readyCount(queue)) === 0);
    } finally {
      await source.stop();
    }
  });

  it('stop() waits for the message in flight and leaves nothing unacked', async () => {
    const queue = queueName('stop');
    await admin.queueDeclare({ queue, durable: true });
    const recording = createRecordingEmit();
    recording.hold();
    const source = new AmqpSource(
      amqpConfigSchema.parse({ type: 'amqp', name: 'direct', host: '127.0.0.1', queue }) as never,
      sourceContext([]),
    );
    await source.start(recording.emit);
    await publish(queue, { type: 'inflight', id: `${RUN}-inflight` });
    await recording.waitForPending(1, 10_000);
    let stopped = false;
    const stopping = source.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(stopped, false, 'stop waits for the emit in flight');
    recording.release();
    await stopping;
    assert.equal(await readyCount(queue), 0, 'the message was acked, not returned to the queue');
  });
});
