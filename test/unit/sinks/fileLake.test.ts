import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { validateConfig } from '../../../src/config/load.js';
import { Dispatcher } from '../../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { readLakeFiles } from '../../support/lakeReadBack.js';
import { MemoryLog } from '../../support/memoryLog.js';
import { waitUntil } from '../../support/waitFor.js';

function lakeFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => join(dir, f))
    .sort();
}

describe('file sink with format parquet (a local lake)', () => {
  it('writes the s3 layout under its directory, each event once across a stop and a restart', async () => {
    const root = mkdtempSync(join(tmpdir(), 'beacon-file-lake-'));
    try {
      const lake = join(root, 'lake');
      const config = {
        name: 'locallake',
        type: 'file',
        path: lake,
        format: 'parquet',
        prefix: 'events/type={type}/',
        roll: { maxEvents: 40, maxAge: '50ms' },
        batch: { maxEvents: 16, maxWaitMs: 10 },
      };
      const parsed = validateConfig({ sinks: [config] }).sinks[0]!;
      const log = new MemoryLog();
      const sent: TrackedEvent[] = Array.from({ length: 200 }, (_, i) => ({
        id: `l${i}`,
        type: i % 2 ? 'a.b' : 'c',
        ts: Date.now(),
        props: { i },
        meta: { source: 'test' },
      }));
      const start = () => {
        const dispatcher = new Dispatcher({
          log,
          sinks: [{ config: parsed }],
          dispatch: { maxFailoverDuration: 200, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
          dataDir: join(root, 'data'),
          logger: silentLogger,
          metrics: createMetrics(new Registry()),
        });
        return dispatcher;
      };
      let d = start();
      await d.start();
      await log.append(sent.slice(0, 120));
      await waitUntil('the first objects', () => lakeFiles(lake).length >= 2, 15_000, 10);
      // Stop and start again on the same data dir and log.
      await d.stop(5000);
      log.restart();
      d = start();
      await d.start();
      await log.append(sent.slice(120));
      await waitUntil('everything committed', () => d.status()[0]!.lagEvents === 0, 15_000, 10);
      await d.stop(5000);
      const files = lakeFiles(lake);
      assert.ok(
        files.every((f) => /events\/type=(a\.b|c)\/0-\d{12}-\d{12}\.parquet$/.test(f)),
        files.join('\n'),
      );
      const back = await readLakeFiles(files);
      assert.equal(back.length, sent.length, 'no event twice');
      for (const e of back)
        assert.deepEqual(
          e,
          sent.find((s) => s.id === e.id),
        );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses lake options on an NDJSON file sink', () => {
    assert.throws(
      () => validateConfig({ sinks: [{ name: 'f', type: 'file', path: 'x.ndjson', roll: { maxEvents: 5 } }] }),
      /roll is for format parquet/,
    );
  });
});
