import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { pino } from 'pino';
import { isBeaconError } from '../../src/errors/beaconError.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import type { Cursor } from '../../src/log/eventLog.js';
import { jetstreamLogSchema, openJetStreamLog, type JetStreamLog } from '../../src/log/jetstream/index.js';
import { silentLogger } from '../../src/ops/logger.js';
import { TSX } from '../support/beaconProcess.js';

/**
 * What the JetStream log does beyond the EventLog contract (test/conformance/jetstreamLog.test.ts),
 * on the machine's nats-server (127.0.0.1:4222), every stream this run's own.
 */
const NATS = 'nats://127.0.0.1:4222';
const run = randomBytes(4).toString('hex');
const admin = await connect({ servers: NATS });
const jsm = await jetstreamManager(admin);
const streams: string[] = [];

after(async () => {
  for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
  await admin.close();
});

function logConfig(name: string, extra: Record<string, unknown> = {}) {
  const stream = `beacon-jsl-${run}-${name}`;
  streams.push(stream);
  return {
    type: 'jetstream',
    servers: [NATS],
    stream,
    subject: `beacon-jsl.${run}.${name}`,
    maxBytes: '16MiB',
    connectTimeout: '5s',
    ...extra,
  };
}

function open(raw: Record<string, unknown>, cursors = ['archive'], logger = silentLogger): Promise<JetStreamLog> {
  return openJetStreamLog({ config: jetstreamLogSchema.parse(raw), logger, cursorNames: cursors });
}

const event = (id: string, meta: Record<string, unknown> = {}): TrackedEvent => ({
  id,
  type: 'page_view',
  ts: Date.now(),
  props: { id },
  meta,
});

async function readAll(cursor: Cursor, waitMs = 500): Promise<string[]> {
  const ids: string[] = [];
  for (let batch = await cursor.read(100, waitMs); batch.events.length > 0; batch = await cursor.read(100, waitMs)) {
    ids.push(...batch.events.map((e) => e.id));
    cursor.commit(batch.position);
  }
  return ids;
}

describe('the JetStream log', { timeout: 120_000 }, () => {
  test('stores an event id once within duplicateWindow (a retried append), but keeps an event Beacon flagged as a duplicate', async () => {
    const log = await open(logConfig('dedupe'));
    try {
      await log.append([event('a'), event('b')]);
      await log.append([event('a'), event('c')]); // as a client's retry through another collector
      await log.append([event('b', { duplicate: true })]); // flagged by the collector's own memory
      const ids = await readAll(await log.cursor('archive'));
      assert.deepEqual(ids, ['a', 'b', 'c', 'b']);
    } finally {
      await log.close();
    }
  });

  test('skips, acks and counts a message on the subject that is not an event, and delivers the ones behind it', async () => {
    const raw = logConfig('foreign');
    let corrupt = 0;
    const log = await openJetStreamLog({
      config: jetstreamLogSchema.parse(raw),
      logger: silentLogger,
      cursorNames: ['archive'],
      onCorrupt: () => corrupt++,
    });
    try {
      await log.append([event('before')]);
      await admin.request(raw.subject, 'not json at all');
      await admin.request(raw.subject, JSON.stringify({ hello: 'world' }));
      await log.append([event('after')]);
      const cursor = await log.cursor('archive');
      assert.deepEqual(await readAll(cursor), ['before', 'after']);
      assert.equal(corrupt, 2);
      await cursor.flush();
      const info = await jsm.consumers.info(raw.stream, 'archive');
      assert.equal(info.num_ack_pending + info.num_pending, 0, 'nothing is left to block the consumer');
    } finally {
      await log.close();
    }
  });

  test('refuses a stream that exists with limits retention, naming the setting (BEACON_E_LOG_CONFIG)', async () => {
    const raw = logConfig('limits');
    await jsm.streams.add({ name: raw.stream, subjects: [raw.subject], retention: RetentionPolicy.Limits });
    await assert.rejects(
      open(raw),
      (err) =>
        isBeaconError(err) &&
        err.code === 'BEACON_E_LOG_CONFIG' &&
        /retention "limits"/.test(err.message) &&
        /nats stream rm/.test(err.message),
    );
  });

  test('warns at open about a durable consumer of the stream that no configured sink uses', async () => {
    const raw = logConfig('foreign-consumer');
    await (await open(raw, ['archive'])).close();
    await jsm.consumers.add(raw.stream, { durable_name: 'old-sink', ack_policy: AckPolicy.Explicit });
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const log = await open(raw, ['archive'], logger);
    await log.close();
    assert.ok(
      lines.some((l) => l.includes('"consumer":"old-sink"') && l.includes(`nats consumer rm ${raw.stream} old-sink`)),
      lines.join('\n'),
    );
  });

  test('a reader that holds a batch longer than ackWait keeps it: the other reader does not get it meanwhile', async () => {
    const raw = logConfig('progress', { ackWait: '1s' });
    const one = await open(raw);
    const two = await open(raw);
    try {
      await one.append(['p1', 'p2', 'p3'].map((id) => event(id)));
      const c1 = await one.cursor('archive');
      const batch = await c1.read(10, 2000);
      assert.equal(batch.events.length, 3);
      const c2 = await two.cursor('archive');
      assert.deepEqual(await readAll(c2, 2500), [], 'nothing moved to the second reader during 2.5 ackWaits');
      c1.commit(batch.position);
      await c1.flush();
      assert.deepEqual(await readAll(c2, 1500), []);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('what a killed reader held goes to the other after ackWait, and nothing else is delivered twice', async () => {
    const raw = logConfig('killed', { ackWait: '4s' });
    const log = await open(raw);
    try {
      const ids = Array.from({ length: 30 }, (_, i) => `k${i}`);
      await log.append(ids.map((id) => event(id)));
      const child = spawn(
        process.execPath,
        ['--import', TSX, fileURLToPath(new URL('../support/jetstreamHolder.ts', import.meta.url))],
        {
          env: { ...process.env, BEACON_TEST_LOG: JSON.stringify(raw), BEACON_TEST_READ: '10' },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const held = await new Promise<string[]>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { held: string[] }).held);
        });
        child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      assert.equal(held.length, 10);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();
      const cursor = await log.cursor('archive');
      const first = await readAll(cursor, 300);
      assert.deepEqual(
        first.sort(),
        ids.filter((id) => !held.includes(id)).sort(),
        'at once: every event the killed reader did not hold',
      );
      const later: string[] = [];
      while (later.length < 10 && Date.now() - killedAt < 20_000) later.push(...(await readAll(cursor, 500)));
      assert.deepEqual(later.sort(), [...held].sort(), 'after ackWait: what it held');
      assert.ok(Date.now() - killedAt >= 2000, 'not long before ackWait (4 s from when it was read)');
    } finally {
      await log.close();
    }
  });
});
