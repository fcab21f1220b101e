import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlerts, type AlertEngine, type IntakeCounters } from '../../../src/alerts/index.js';
import type { AlertChannel } from '../../../src/alerts/channels/channel.js';
import type { AlertNotification } from '../../../src/alerts/notification.js';
import { subjectLine } from '../../../src/alerts/notification.js';
import { validateConfig } from '../../../src/config/load.js';
import type { SinkStatus } from '../../../src/dispatch/status.js';
import type { LogUsage } from '../../../src/log/eventLog.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { captureLogger, FakeClock } from '../dispatch/fakes.js';

export const MINUTE = 60_000;

/** A channel that keeps what it is asked to send; `fail` scripts failures per attempt. */
export class RecordingChannel implements AlertChannel {
  readonly sent: AlertNotification[] = [];
  attempts = 0;
  closed = false;
  fail: ((attempt: number) => Error | undefined) | undefined;

  constructor(readonly name = 'rec') {}

  async send(n: AlertNotification): Promise<void> {
    this.attempts++;
    const err = this.fail?.(this.attempts);
    if (err) throw err;
    this.sent.push(n);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Subjects as an email would show them, in order. */
  subjects(): string[] {
    return this.sent.map((n) => subjectLine(n));
  }
}

/** A sink's status line as the dispatcher reports it; `failing` adds a last error at `at`. */
export function sink(name: string, state: SinkStatus['state'], extra: Partial<SinkStatus> = {}): SinkStatus {
  return {
    name,
    type: 'http',
    state,
    since: new Date(0).toISOString(),
    lagEvents: 0,
    lagSeconds: 0,
    delivered: 0,
    deadLettered: 0,
    errors: 0,
    ...extra,
  };
}

export function failing(name: string, at: number, extra: Partial<SinkStatus> = {}): SinkStatus {
  return sink(name, 'backing_off', {
    errors: 1,
    lagEvents: 42,
    lastError: { message: 'connect ECONNREFUSED 127.0.0.1:9', kind: 'retry', at: new Date(at).toISOString() },
    ...extra,
  });
}

export interface Harness {
  engine: AlertEngine;
  clock: FakeClock;
  channel: RecordingChannel;
  metrics: Metrics;
  logLines: Record<string, unknown>[];
  dataDir: string;
  /** What the next round reads. */
  sinks: SinkStatus[];
  log: LogUsage;
  intake: IntakeCounters | Error;
  /** Moves the clock, runs one round and waits until every message of it was handed to the channel. */
  round(afterMs?: number): Promise<void>;
  /** The same engine config on the same data dir, as after a restart. */
  restart(): Promise<Harness>;
  close(): Promise<void>;
}

/**
 * An alert engine on a fake clock, its inputs set by the test, its one channel (`rec`)
 * recording. `rules` are `alerts.rules` entries; `channels: ['rec']` is filled in.
 */
export async function alertHarness(
  rules: Record<string, unknown>[],
  options: { renotifyAfter?: string | number; sinks?: string[]; dataDir?: string; clock?: FakeClock } = {},
): Promise<Harness> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'beacon-alerts-')));
  const sinkNames = options.sinks ?? ['hook', 'archive'];
  const config = validateConfig({
    dataDir,
    sinks: sinkNames.map((name) => ({ name, type: 'stdout' })),
    alerts: {
      renotifyAfter: options.renotifyAfter ?? '1h',
      rules: rules.map((r) => ({ channels: ['rec'], ...r })),
      channels: [{ name: 'rec', type: 'webhook', url: 'http://127.0.0.1:9/unused' }],
    },
  });
  const clock = options.clock ?? new FakeClock();
  const channel = new RecordingChannel();
  const metrics = createMetrics();
  const { logger, lines } = captureLogger();
  const h: Harness = {
    engine: undefined as unknown as AlertEngine,
    clock,
    channel,
    metrics,
    logLines: lines,
    dataDir,
    sinks: sinkNames.map((n) => sink(n, 'idle')),
    log: { bytes: 0, maxBytes: 1000, ratio: 0 },
    intake: { appended: 0, httpRejected: {} },
    async round(afterMs = 0) {
      clock.advance(afterMs);
      await h.engine.evaluate();
      await h.engine.idle();
    },
    restart: () => alertHarness(rules, { ...options, dataDir, clock }),
    close: async () => {
      await h.engine.stop(0);
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  const engine = await startAlerts({
    config,
    inputs: {
      sinks: () => h.sinks,
      logUsage: () => h.log,
      intake: async () => {
        if (h.intake instanceof Error) throw h.intake;
        return h.intake;
      },
    },
    logger,
    metrics,
    version: 'test',
    clock,
    channels: [channel],
    autoStart: false,
  });
  h.engine = engine!;
  return h;
}
