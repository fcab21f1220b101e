import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { silentLogger } from '../../src/ops/logger.js';
import { systemClock } from '../../src/ops/clock.js';
import type { Sink, SinkContext } from '../../src/sinks/sink.js';
import type { BaseSinkConfig } from '../../src/sinks/sinkConfig.js';
import { MemoryLog } from '../support/memoryLog.js';
import { waitForValue, waitUntil } from '../support/waitFor.js';
import { parseSinkConfig } from '../../src/config/parseSinkConfig.js';

/**
 * What a sink's conformance test provides: a destination it can start, stop and read back.
 * Every check drives a real Dispatcher over a MemoryLog, so the sink is tested together with
 * the retry, dead-letter and shutdown rules it relies on.
 */
export interface SinkHarness {
  /** The sink's config for one check (`name` and base fields are filled in by the suite). */
  config(name: string): Record<string, unknown> & { type: string };
  /** Builds the sink, when the test needs to pass a seam (e.g. a file system that fails on demand). */
  createSink?(config: BaseSinkConfig & Record<string, unknown>, context: SinkContext): Sink;
  /** Brings the destination up (again). Called before every check. */
  start(): Promise<void>;
  /** Takes the destination away: the sink's next attempts fail as they would in production. */
  stop(): Promise<void>;
  /** Every event the destination holds, decoded, in arrival order (duplicates included). */
  readBack(): Promise<TrackedEvent[]>;
  /** Forgets what was delivered, between checks. */
  reset(): Promise<void>;
  /** Whether the sink promises to keep log order (single key/partition). */
  ordered: boolean;
  /**
   * Makes the destination refuse events matching `bad` for good, with a reason containing
   * `reason`. Absent when the destination cannot refuse single events (e.g. a file).
   */
  rejectWhere?(bad: (e: TrackedEvent) => boolean, reason: string): void;
}

const TIMEOUT_MS = 20_000;
/**
 * How often a wait reads the destination back. Each check may read every event the destination
 * holds (a table scan, a queue drain, a consumer catching up): at 10 ms those reads loaded the
 * very server the sink was writing to on CI's 2 cores.
 */
const POLL_MS = 50;

const waitFor = (check: () => Promise<boolean> | boolean, what: string) => waitUntil(what, check, TIMEOUT_MS, POLL_MS);

function makeEvents(n: number, from = 0, extra: (i: number) => Partial<TrackedEvent> = () => ({})): TrackedEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      id: `c${String(i).padStart(5, '0')}`,
      type: 'conformance',
      ts: Date.now(),
      props: { n: i, text: `event ${i} with spaces & symbols` },
      meta: { source: 'test' },
      ...extra(i),
    };
  });
}

function run(label: string, harness: SinkHarness) {
  const name = sinkName(label);
  const log = new MemoryLog();
  const dataDir = mkdtempSync(join(tmpdir(), `beacon-conformance-${name}-`));
  const config = harness.config(name);
  // Small batches, so every check spans several; a harness may add batch settings (inFlight).
  const batch = { ...(config.batch as Record<string, unknown> | undefined), maxEvents: 16, maxWaitMs: 10 };
  const raw = { ...config, name, batch } as BaseSinkConfig & Record<string, unknown>;
  const sink = harness.createSink?.(raw, { name, dataDir, logger: silentLogger, clock: systemClock });
  const dispatcher = new Dispatcher({
    log,
    sinks: [sink ? { config: raw, sink } : { config: parseSinkConfig(raw) }],
    dispatch: { maxFailoverDuration: 200, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
    dataDir,
    logger: silentLogger,
    metrics: createMetrics(new Registry()),
  });
  const status = () => dispatcher.status()[0]!;
  return { log, dataDir, dispatcher, status };
}

/** A config-valid sink name for a suite label such as "http (ndjson, gzip)". */
function sinkName(label: string): string {
  return label.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/-+$/, '');
}

function ids(events: readonly TrackedEvent[]): string[] {
  return events.map((e) => e.id);
}

/** Runs the shared checks against one sink type. */
export function runSinkConformance(name: string, harness: SinkHarness): void {
  describe(`${name} sink conformance`, () => {
    test('delivers every event exactly as it was logged', async () => {
      await harness.reset();
      await harness.start();
      const { log, dispatcher, status } = run(name, harness);
      await dispatcher.start();
      const sent = makeEvents(100);
      await log.append(sent);
      await waitFor(async () => new Set(ids(await harness.readBack())).size === 100, 'all events at the destination');
      await dispatcher.stop(5000);
      const got = await harness.readBack();
      for (const event of sent)
        assert.deepEqual(
          got.find((e) => e.id === event.id),
          event,
        );
      assert.equal(status().lagEvents, 0);
      assert.equal(status().delivered, 100);
    });

    test(
      'keeps log order where it promises to',
      { skip: !harness.ordered && 'the sink does not promise order' },
      async () => {
        await harness.reset();
        await harness.start();
        const { log, dispatcher } = run(name, harness);
        await dispatcher.start();
        const sent = makeEvents(60);
        for (let i = 0; i < 60; i += 7) await log.append(sent.slice(i, i + 7));
        await waitFor(async () => (await harness.readBack()).length >= 60, 'all events');
        await dispatcher.stop(5000);
        assert.deepEqual(ids(await harness.readBack()), ids(sent));
      },
    );

    test('survives the destination going away mid-run and coming back, without loss', async (t) => {
      await harness.reset();
      await harness.start();
      const { log, dispatcher, status } = run(name, harness);
      await dispatcher.start();
      const sent = makeEvents(120);
      await log.append(sent.slice(0, 40));
      await waitFor(async () => new Set(ids(await harness.readBack())).size === 40, 'first part');
      await harness.stop();
      await log.append(sent.slice(40, 80));
      await waitFor(() => status().state === 'backing_off', 'the sink to back off');
      await log.append(sent.slice(80));
      await new Promise((r) => setTimeout(r, 300));
      await harness.start();
      let seen = 0;
      await waitForValue(
        () => `every event after the restart (${seen} of 120 at the destination; sink ${JSON.stringify(status())})`,
        async () => ((seen = new Set(ids(await harness.readBack())).size) === 120 ? true : undefined),
        TIMEOUT_MS,
        POLL_MS,
      );
      await dispatcher.stop(5000);
      const got = ids(await harness.readBack());
      const missing = ids(sent).filter((id) => !got.includes(id));
      assert.deepEqual(missing, []);
      const duplicates = got.length - new Set(got).size;
      t.diagnostic(`duplicates after the outage: ${duplicates}`);
      assert.ok(status().errors > 0, 'the outage was seen as failed attempts');
      if (harness.ordered) {
        const firstSeen = got.filter((id, i) => got.indexOf(id) === i);
        assert.deepEqual(firstSeen, ids(sent), 'order holds through the outage');
      }
    });

    test(
      'dead-letters a rejected event with the reason and delivers the rest',
      { skip: !harness.rejectWhere && 'the destination cannot refuse single events' },
      async () => {
        await harness.reset();
        await harness.start();
        harness.rejectWhere!((e) => e.props.poison === true, 'poison event refused');
        const { log, dispatcher, dataDir, status } = run(name, harness);
        await dispatcher.start();
        const sent = makeEvents(30, 0, (i) => (i === 7 || i === 21 ? { props: { n: i, poison: true } } : {}));
        await log.append(sent);
        await waitFor(() => status().deadLettered === 2 && status().lagEvents === 0, 'the dead letters');
        await dispatcher.stop(5000);
        const got = new Set(ids(await harness.readBack()));
        assert.deepEqual(
          ids(sent).filter((id) => !got.has(id)),
          ['c00007', 'c00021'],
        );
        const path = join(dataDir, 'dlq', `${sinkName(name)}.ndjson`);
        assert.ok(existsSync(path));
        const entries = readFileSync(path, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        // A sink that does not keep log order (several batches in flight) may dead-letter them in either order.
        const deadLettered = entries.map((e) => (e.event as TrackedEvent).id);
        assert.deepEqual(harness.ordered ? deadLettered : deadLettered.sort(), ['c00007', 'c00021']);
        for (const entry of entries) {
          assert.equal(entry.code, 'BEACON_E_SINK_REJECTED');
          assert.equal(entry.sink, sinkName(name));
          assert.match(String(entry.reason), /poison event refused/);
        }
      },
    );

    test('flushes on close: everything delivered before stop() is at the destination and committed', async () => {
      await harness.reset();
      await harness.start();
      const { log, dispatcher, status } = run(name, harness);
      await dispatcher.start();
      await log.append(makeEvents(50));
      await waitFor(() => status().delivered === 50, 'deliveries');
      await dispatcher.stop(5000);
      assert.equal(new Set(ids(await harness.readBack())).size, 50);
      assert.equal(log.persistedOf(sinkName(name)), 50);
      assert.equal(status().state, 'stopped');
    });
  });
}
