import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSinkConfig } from '../../../src/config/parseSinkConfig.js';
import { isBeaconError } from '../../../src/errors/beaconError.js';
import { SinkError, type BatchOrigins, type Sink } from '../../../src/sinks/sink.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../../src/dispatch/dispatcher.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { captureLogger, FakeClock, FakeSink, makeEvents, waitFor } from './fakes.js';
import { setup } from './setup.js';

/** Holds each batch (by its first event's id) until the test opens its gate; counts deliveries under way. */
class Gates {
  private readonly opens = new Map<string, () => void>();
  private readonly gates = new Map<string, Promise<void>>();
  inside = 0;
  most = 0;

  gate(id: string): Promise<void> {
    let gate = this.gates.get(id);
    if (!gate) {
      gate = new Promise<void>((resolve) => this.opens.set(id, resolve));
      this.gates.set(id, gate);
    }
    return gate;
  }

  open(id: string): void {
    void this.gate(id);
    this.opens.get(id)!();
  }

  /** A FakeSink behaviour: waits at the batch's gate, failing first as `failFirst` says. */
  async hold(batch: readonly TrackedEvent[], failFirst?: (id: string) => SinkError | undefined): Promise<void> {
    this.inside++;
    this.most = Math.max(this.most, this.inside);
    try {
      const id = batch[0]!.id;
      await this.gate(id);
      const failure = failFirst?.(id);
      if (failure) throw failure;
    } finally {
      this.inside--;
    }
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
const ids = (n: number, from = 0) => makeEvents(n, from).map((e) => e.id);

describe('a sink loop with several batches in flight (batch.inFlight)', { timeout: 20_000 }, () => {
  test('delivers up to inFlight batches at once and no more', async () => {
    const gates = new Gates();
    const sink = new FakeSink((batch) => gates.hold(batch));
    const { log, dispatcher } = setup([
      { name: 'hook', sink, config: { batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 3 } } },
    ]);
    await log.append(makeEvents(50));
    await dispatcher.start();
    await waitFor(() => gates.inside === 3, 'three batches delivering at once');
    await settle();
    assert.equal(sink.attempts.length, 3, 'the fourth batch waits for room');
    assert.equal(dispatcher.status()[0]!.state, 'delivering');
    for (const id of ['e0', 'e10', 'e20', 'e30', 'e40']) gates.open(id);
    await waitFor(() => log.committedOf('hook') === 50, 'every batch committed');
    assert.equal(gates.most, 3);
    assert.deepEqual(sink.acceptedIds.slice().sort(), ids(50).slice().sort(), 'each event once');
    assert.equal(dispatcher.status()[0]!.delivered, 50);
    await dispatcher.stop(1000);
  });

  test('commits in log order: a later batch done first waits for the earlier ones', async () => {
    const gates = new Gates();
    const sink = new FakeSink((batch) => gates.hold(batch));
    const { log, dispatcher } = setup([
      { name: 'hook', sink, config: { batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 3 } } },
    ]);
    await log.append(makeEvents(30));
    await dispatcher.start();
    await waitFor(() => gates.inside === 3, 'three batches in flight');
    gates.open('e20');
    await waitFor(() => sink.acceptedIds.includes('e29'), 'the third batch delivered');
    await settle();
    assert.equal(log.committedOf('hook'), 0, 'the third batch is not committed before the first two');
    gates.open('e0');
    await waitFor(() => log.committedOf('hook') === 10, 'the first batch committed');
    await settle();
    assert.equal(log.committedOf('hook'), 10, 'not past the second batch, still in flight');
    gates.open('e10');
    await waitFor(() => log.committedOf('hook') === 30, 'the second and third committed together');
    await dispatcher.stop(1000);
  });

  test('an earlier batch that fails is retried while later ones finish; the cursor waits for it', async () => {
    const gates = new Gates();
    let failures = 0;
    const sink = new FakeSink((batch) =>
      gates.hold(batch, (id) => (id === 'e0' && failures++ === 0 ? new SinkError('retry', 'busy') : undefined)),
    );
    const { log, clock, dispatcher } = setup([
      { name: 'hook', sink, config: { batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 3 } } },
    ]);
    await log.append(makeEvents(30));
    await dispatcher.start();
    await waitFor(() => gates.inside === 3, 'three batches in flight');
    gates.open('e0');
    await clock.nextSleep();
    assert.equal(dispatcher.status()[0]!.state, 'backing_off');
    gates.open('e10');
    gates.open('e20');
    await waitFor(() => sink.accepted.length === 20, 'the later batches delivered');
    await settle();
    assert.equal(log.committedOf('hook'), 0, 'nothing committed while the first batch backs off');
    assert.equal(dispatcher.status()[0]!.state, 'backing_off', 'the sink is failing while one batch backs off');
    clock.advance(1000);
    await waitFor(() => log.committedOf('hook') === 30, 'all committed once the first batch is retried');
    const status = dispatcher.status()[0]!;
    assert.equal(status.delivered, 30);
    assert.equal(status.errors, 1);
    assert.equal(status.lagEvents, 0);
    assert.deepEqual(sink.acceptedIds.slice().sort(), ids(30).slice().sort(), 'each event once');
    await dispatcher.stop(1000);
  });

  test('a stop with batches in flight commits nothing past the first one not delivered; a restart delivers the rest again', async () => {
    const gates = new Gates();
    const sink = new FakeSink((batch) =>
      gates.hold(batch, (id) => (id === 'e10' ? new SinkError('retry', 'down') : undefined)),
    );
    const { log, clock, dispatcher } = setup([
      { name: 'hook', sink, config: { batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 3 } } },
    ]);
    await log.append(makeEvents(40));
    await dispatcher.start();
    await waitFor(() => gates.inside === 3, 'three batches in flight');
    gates.open('e10');
    await clock.nextSleep();
    gates.open('e0');
    gates.open('e20');
    await waitFor(() => sink.accepted.length === 20, 'the first and third delivered');
    await waitFor(() => log.committedOf('hook') === 10, 'the first committed');
    // Its commit made room: the fourth batch is taken and delivered too.
    gates.open('e30');
    await waitFor(() => sink.accepted.length === 30, 'the fourth delivered');
    await dispatcher.stop(1000);
    assert.equal(log.committedOf('hook'), 10, 'not past the second batch, which was never delivered');
    assert.equal(log.persistedOf('hook'), 10);
    assert.equal(dispatcher.status()[0]!.state, 'stopped');

    log.restart();
    const again = new FakeSink();
    const restarted = new Dispatcher({
      log,
      sinks: [
        { config: { name: 'hook', type: 'fake', batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 3 } }, sink: again },
      ],
      dispatch: { maxFailoverDuration: 1000, initialBackoff: 100, logEvery: 1000, shutdownTimeout: 1000 },
      dataDir: mkdtempSync(join(tmpdir(), 'beacon-inflight-')),
      logger: captureLogger().logger,
      metrics: createMetrics(new Registry()),
      clock: new FakeClock(),
      random: () => 1,
    });
    await restarted.start();
    await waitFor(() => log.committedOf('hook') === 40, 'the rest delivered after the restart');
    assert.deepEqual(
      again.acceptedIds.slice().sort(),
      ids(30, 10).slice().sort(),
      'from the first batch not delivered on',
    );
    await restarted.stop(1000);
  });

  test('a fatal error in one batch stops the loop; the batches before it are committed, none after', async () => {
    const gates = new Gates();
    const sink = new FakeSink((batch) =>
      gates.hold(batch, (id) => (id === 'e10' ? new SinkError('fatal', 'bad credentials') : undefined)),
    );
    const { log, dispatcher } = setup([
      { name: 'hook', sink, config: { batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 3 } } },
    ]);
    await log.append(makeEvents(50));
    await dispatcher.start();
    await waitFor(() => gates.inside === 3, 'three batches in flight');
    gates.open('e10');
    await waitFor(() => dispatcher.status()[0]!.state === 'fatal', 'the sink fatal');
    gates.open('e20');
    gates.open('e0');
    await waitFor(() => log.committedOf('hook') === 10, 'the first batch committed');
    await settle();
    assert.equal(log.committedOf('hook'), 10, 'nothing past the fatal batch');
    assert.equal(sink.attempts.length, 3, 'no batch taken after the fatal one');
    assert.equal(dispatcher.status()[0]!.state, 'fatal');
    await dispatcher.stop(1000);
    assert.equal(dispatcher.status()[0]!.state, 'fatal');
  });

  test('a batch that reopens the sink while another makes it fatal stays fatal: no retry without back-off, nothing committed', async () => {
    const gate = (): { wait: Promise<void>; open: () => void } => {
      let open!: () => void;
      const wait = new Promise<void>((resolve) => (open = resolve));
      return { wait, open };
    };
    const firstFails = gate();
    const secondFatal = gate();
    const reopen = gate();
    let first = true;
    const sink = new FakeSink(async (batch) => {
      const id = batch[0]!.id;
      if (id === 'e0') {
        if (first) {
          first = false;
          await firstFails.wait;
          throw new SinkError('reconnect', 'connection reset');
        }
        throw new SinkError('retry', 'still failing');
      }
      if (id === 'e10') {
        await secondFatal.wait;
        throw new SinkError('fatal', 'bad credentials');
      }
    });
    sink.openBehaviour = async (n) => {
      if (n === 2) await reopen.wait;
    };
    const { log, clock, dispatcher } = setup([
      { name: 'hook', sink, config: { batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 2 } } },
    ]);
    await log.append(makeEvents(20));
    await dispatcher.start();
    await waitFor(() => sink.attempts.length === 2, 'both batches in flight');
    firstFails.open();
    await clock.nextSleep();
    clock.advance(10_000);
    await waitFor(() => sink.opens === 2, 'the first batch reopens the sink');
    secondFatal.open();
    await waitFor(() => dispatcher.status()[0]!.state === 'fatal', 'the second batch made the sink fatal');
    const attempts = sink.attempts.length;
    reopen.open();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(dispatcher.status()[0]!.state, 'fatal', 'the reopen does not hide it');
    assert.ok(sink.attempts.length - attempts <= 1, `${sink.attempts.length - attempts} more attempts after fatal`);
    assert.equal(log.committedOf('hook'), 0);
    await dispatcher.stop(1000);
  });

  test('a seek with batches in flight: they are not committed, and the log is delivered again from the target', async () => {
    const gates = new Gates();
    const sink = new FakeSink((batch) =>
      batch[0]!.id === 'e0' || batch[0]!.id === 'e10' ? gates.hold(batch) : undefined,
    );
    const { log, dispatcher } = setup([
      { name: 'hook', sink, config: { batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 2 } } },
    ]);
    await log.append(makeEvents(30));
    await dispatcher.start();
    await waitFor(() => gates.inside === 2, 'two batches in flight');
    const seek = dispatcher.replayFromLog('hook', { kind: 'position', position: { '0': 20 } });
    await seek;
    gates.open('e10');
    await settle();
    assert.equal(log.committedOf('hook'), 20, 'the seek set the position; the batch done since is not committed');
    gates.open('e0');
    await waitFor(() => log.committedOf('hook') === 30, 'the events after the target delivered and committed');
    assert.deepEqual(sink.acceptedIds.slice().sort(), [...ids(20), ...ids(10, 20)].slice().sort());
    await dispatcher.stop(1000);
  });

  test('a dead-letter replay waits for every batch in flight, and takes the sink alone', async () => {
    const gates = new Gates();
    let replaying = false;
    let overlapped = false;
    const sink = new FakeSink(async (batch) => {
      if (batch.some((e) => e.props.bad)) {
        if (gates.inside > 0) overlapped = true;
        throw new SinkError('reject', 'bad');
      }
      if (replaying && gates.inside > 0) overlapped = true;
      await gates.hold(batch);
    });
    const { log, dispatcher } = setup([
      { name: 'hook', sink, config: { batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 3 } } },
    ]);
    await log.append(makeEvents(1, 0, () => ({ props: { bad: true } })));
    await dispatcher.start();
    await waitFor(() => dispatcher.status()[0]!.deadLettered === 1, 'the dead letter');
    await log.append(makeEvents(20, 1));
    await waitFor(() => gates.inside === 2, 'two batches in flight');
    replaying = true;
    const replay = dispatcher.replayDeadLetters('hook');
    await settle();
    const attempts = sink.attempts.length;
    gates.open('e1');
    await settle();
    assert.equal(sink.attempts.length, attempts, 'the replay waits for the second batch too');
    gates.open('e11');
    const result = await replay;
    assert.equal(result.replayed, 1);
    assert.equal(overlapped, false, 'the replay never ran beside a delivery');
    await waitFor(() => log.committedOf('hook') === 21, 'every batch committed');
    await dispatcher.stop(1000);
  });
});

describe('batch.inFlight in the config', () => {
  test('http takes several batches by default; above the bound it is refused with the field named', () => {
    const http = parseSinkConfig({ name: 'h', type: 'http', url: 'http://127.0.0.1:1/in' });
    assert.equal(http.batch.inFlight, 4);
    assert.throws(
      () => parseSinkConfig({ name: 'h', type: 'http', url: 'http://127.0.0.1:1/in', batch: { inFlight: 17 } }),
      (err: unknown) =>
        isBeaconError(err) &&
        err.code === 'BEACON_E_CONFIG_FIELD' &&
        err.message.startsWith('sinks.h.batch.inFlight:') &&
        err.message.includes('at most 16'),
    );
  });

  test('a sink that delivers one batch at a time refuses more, and says so', () => {
    for (const raw of [
      { name: 'f', type: 'file', path: '/tmp/x.ndjson' },
      { name: 'c', type: 'clickhouse', table: 'events' },
      { name: 'r', type: 'redis', key: 'events' },
    ]) {
      assert.equal(parseSinkConfig(raw).batch.inFlight, 1, raw.type);
      assert.throws(
        () => parseSinkConfig({ ...raw, batch: { inFlight: 2 } }),
        (err: unknown) =>
          isBeaconError(err) &&
          err.code === 'BEACON_E_CONFIG_FIELD' &&
          err.message.includes(`sinks.${raw.name}.batch.inFlight`) &&
          err.message.includes('one batch at a time'),
        raw.type,
      );
    }
  });

  test('a ready sink that writes by log position is refused more than one batch in flight', () => {
    const positioned: Sink = {
      open: async () => {},
      deliver: async () => {},
      close: async () => {},
      deliverAt: async (_batch: readonly TrackedEvent[], at: BatchOrigins) => at.end,
    };
    assert.throws(
      () =>
        setup([{ name: 'lake', sink: positioned, config: { batch: { maxEvents: 10, maxWaitMs: 5, inFlight: 2 } } }]),
      (err: unknown) =>
        isBeaconError(err) && err.code === 'BEACON_E_CONFIG_FIELD' && err.message.includes('one batch at a time'),
    );
  });
});
