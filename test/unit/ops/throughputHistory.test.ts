import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ThroughputHistory, startThroughputSampler, type LedgerTotals } from '../../../src/ops/throughputHistory.js';
import { ReportedIntakeTotals, ledgerReader, readIntakeTotals } from '../../../src/ops/ledgerTotals.js';
import { createMetrics } from '../../../src/ops/metrics.js';

const T0 = 1_700_000_000_000; // a whole second
const totals = (received: number, rejected = 0, delivered: Record<string, number> = {}): LedgerTotals => ({
  received,
  rejected,
  delivered,
});

describe('the throughput history', () => {
  it('turns ledger totals into events per second, oldest first, with no data before the first sample', () => {
    const h = new ThroughputHistory(['hook'], 10);
    h.record(totals(100, 1, { hook: 90 }), T0 + 200);
    h.record(totals(150, 1, { hook: 140 }), T0 + 1_100);
    h.record(totals(170, 4, { hook: 170 }), T0 + 2_050);
    const w = h.window(T0 + 3_000);
    assert.equal(w.intervalMs, 1000);
    assert.equal(w.end, T0 + 1_000, 'the newest point is the newest second a sample covered');
    assert.deepEqual(w.received.slice(-2), [50, 20]);
    assert.deepEqual(w.rejected.slice(-2), [0, 3]);
    assert.deepEqual(w.deliveredBySink.hook!.slice(-2), [50, 30]);
    assert.deepEqual(w.delivered.slice(-2), [50, 30]);
    assert.deepEqual(w.received.slice(0, 8), Array(8).fill(null), 'seconds before Beacon sampled are gaps, not zeros');
  });

  it('spreads a late sample over the seconds it covers, so a stalled event loop draws no spike', () => {
    const h = new ThroughputHistory([], 10);
    h.record(totals(0), T0);
    h.record(totals(300), T0 + 3_000);
    assert.deepEqual(h.window(T0 + 3_000).received.slice(-3), [100, 100, 100]);
    assert.deepEqual(
      h.window(T0 + 3_000).delivered.slice(-3),
      [0, 0, 0],
      'with no sinks, delivered is zero where there is data',
    );
  });

  it('keeps a fixed number of slots however long it runs: the window sums to the counter increase over it', () => {
    const h = new ThroughputHistory(['a', 'b'], 900);
    let received = 0;
    for (let s = 0; s <= 2000; s++) {
      h.record(totals(received, 0, { a: received, b: received * 2 }), T0 + s * 1000);
      received += s % 7;
    }
    const w = h.window(T0 + 2001 * 1000);
    assert.equal(w.received.length, 900);
    assert.ok(w.received.every((v) => v !== null));
    let expected = 0;
    for (let s = 2000 - 900; s < 2000; s++) expected += s % 7;
    assert.equal(
      w.received.reduce<number>((a, v) => a + (v ?? 0), 0),
      expected,
    );
    assert.equal(
      w.delivered.reduce<number>((a, v) => a + (v ?? 0), 0),
      expected * 3,
      'delivered adds up every sink',
    );
  });

  it('answers a shorter window when asked, never longer than its slots', () => {
    const h = new ThroughputHistory([], 60);
    h.record(totals(0), T0);
    h.record(totals(10), T0 + 1000);
    assert.equal(h.window(T0 + 2000, 5).received.length, 5);
    assert.equal(h.window(T0 + 2000, 5000).received.length, 60);
  });

  it('ignores a sample in the same second and never counts a counter going down as negative', () => {
    const h = new ThroughputHistory([], 10);
    h.record(totals(10), T0);
    h.record(totals(20), T0 + 1000);
    h.record(totals(999), T0 + 1500);
    h.record(totals(5), T0 + 2000);
    assert.deepEqual(h.window(T0 + 2000).received.slice(-2), [10, 0]);
  });

  it('samples the ledger every interval until stopped', async () => {
    const metrics = createMetrics();
    const h = new ThroughputHistory(['hook'], 10);
    let now = T0;
    const sampler = startThroughputSampler(
      h,
      ledgerReader(metrics, () => readIntakeTotals(metrics)),
      () => now,
      20,
    );
    await new Promise((r) => setTimeout(r, 30));
    metrics.eventsReceived.inc({ source: 'http' }, 7);
    metrics.eventsRejected.inc({ source: 'http', code: 'BEACON_E_BAD_JSON' }, 2);
    metrics.sinkDelivered.inc({ sink: 'hook' }, 5);
    now = T0 + 1000;
    await new Promise((r) => setTimeout(r, 60));
    sampler.stop();
    const w = h.window(T0 + 2000);
    assert.deepEqual([w.received.at(-1), w.rejected.at(-1), w.delivered.at(-1)], [7, 2, 5]);
  });
});

describe('intake totals reported by collector processes', () => {
  it('adds partitions up and stays monotonic when a collector restarts from zero', () => {
    const t = new ReportedIntakeTotals();
    t.report('p0', { received: 100, rejected: 2 });
    t.report('p1', { received: 50, rejected: 0 });
    assert.deepEqual(t.sum(), { received: 150, rejected: 2 });
    t.report('p1', { received: 5, rejected: 0 }); // p1 restarted
    assert.deepEqual(t.sum(), { received: 155, rejected: 2 });
    t.report('p1', { received: 20, rejected: 1 });
    assert.deepEqual(t.sum(), { received: 170, rejected: 3 });
  });
});
