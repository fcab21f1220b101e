import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parseSinkConfig } from '../../../src/config/parseSinkConfig.js';
import { Dispatcher } from '../../../src/dispatch/dispatcher.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { MemoryLog } from '../../support/memoryLog.js';
import { waitUntil } from '../../support/waitFor.js';

const EVENTS = 1200;

/** A log that checks, at every commit, that the receiver already holds every event before the committed position. */
class CheckedLog extends MemoryLog {
  readonly commits: number[] = [];
  readonly violations: string[] = [];
  constructor(private readonly received: () => ReadonlySet<string>) {
    super();
  }

  override setCommitted(name: string, seq: number): void {
    const have = this.received();
    const missing = this.events.slice(0, seq).filter((e) => !have.has(e.id));
    if (missing.length > 0) this.violations.push(`commit ${seq} before ${missing.length} events reached the receiver`);
    this.commits.push(seq);
    super.setCommitted(name, seq);
  }
}

// A receiver whose answer time varies by request (0 to 15 ms), so later batches often finish first.
const received: string[] = [];
let requests = 0;
let inside = 0;
let most = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  const delay = (requests++ * 7) % 16;
  inside++;
  most = Math.max(most, inside);
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    setTimeout(() => {
      const events = JSON.parse(Buffer.concat(chunks).toString('utf8')) as TrackedEvent[];
      received.push(...events.map((e) => e.id));
      inside--;
      res.writeHead(200).end('ok');
    }, delay);
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
after(() => server.close());

test('the http sink with 4 batches in flight delivers every event once, and commits only what the receiver holds, in log order', async () => {
  const port = (server.address() as AddressInfo).port;
  const log = new CheckedLog(() => new Set(received));
  const dispatcher = new Dispatcher({
    log,
    sinks: [
      {
        config: parseSinkConfig({
          name: 'hook',
          type: 'http',
          url: `http://127.0.0.1:${port}/in`,
          batch: { maxEvents: 20, maxWaitMs: 5, inFlight: 4 },
        }),
      },
    ],
    dispatch: { maxFailoverDuration: 1000, initialBackoff: 10, logEvery: 0, shutdownTimeout: 5000 },
    dataDir: mkdtempSync(join(tmpdir(), 'beacon-http-inflight-')),
    logger: silentLogger,
    metrics: createMetrics(new Registry()),
  });
  const events = Array.from({ length: EVENTS }, (_, i) => ({
    id: `h${String(i).padStart(5, '0')}`,
    type: 'page',
    ts: Date.now(),
    props: { n: i },
    meta: {},
  }));
  await log.append(events);
  await dispatcher.start();
  await waitUntil('every event committed', () => log.committedOf('hook') === EVENTS, 20_000, 5);
  await dispatcher.stop(5000);

  assert.equal(received.length, EVENTS, 'each event once');
  assert.deepEqual([...received].sort(), events.map((e) => e.id).sort());
  assert.deepEqual(log.violations, []);
  assert.ok(
    log.commits.every((seq, i) => i === 0 || seq > log.commits[i - 1]!),
    'commits only move forward',
  );
  assert.equal(most, 4, 'four requests were in flight at once, and never more');
  assert.equal(dispatcher.status()[0]!.delivered, EVENTS);
  assert.equal(dispatcher.status()[0]!.lagEvents, 0);
});
