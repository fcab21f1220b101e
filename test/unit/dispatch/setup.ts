import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { DispatchConfig } from '../../../src/config/schema.js';
import { Dispatcher } from '../../../src/dispatch/dispatcher.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import type { Sink } from '../../../src/sinks/sink.js';
import { MemoryLog } from '../../support/memoryLog.js';
import { captureLogger, FakeClock } from './fakes.js';

export interface TestSink {
  name: string;
  sink: Sink;
  config?: Record<string, unknown>;
}

/** A Dispatcher over a MemoryLog with fake sinks, a fake clock and a captured logger. */
export function setup(sinks: TestSink[], dispatch: Partial<DispatchConfig> = {}) {
  const log = new MemoryLog();
  const clock = new FakeClock();
  const { logger, lines } = captureLogger();
  const metrics = createMetrics(new Registry());
  const dataDir = mkdtempSync(join(tmpdir(), 'beacon-dispatch-'));
  const dispatcher = new Dispatcher({
    log,
    sinks: sinks.map((s) => ({
      config: { name: s.name, type: 'fake', batch: { maxEvents: 10, maxWaitMs: 5 }, ...s.config },
      sink: s.sink,
    })),
    dispatch: { maxFailoverDuration: 1000, initialBackoff: 100, logEvery: 1000, shutdownTimeout: 1000, ...dispatch },
    dataDir,
    logger,
    metrics,
    clock,
    random: () => 1,
  });
  return { log, clock, lines, metrics, dataDir, dispatcher };
}
