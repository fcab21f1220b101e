import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { alertHarness, sink, MINUTE, type Harness } from './harness.js';

describe('the dead_letters_rate rule', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('fires when dead letters grow faster than perMinute over the window, and resolves when they slow', async () => {
    h = await alertHarness([{ name: 'rejects', type: 'dead_letters_rate', perMinute: 2, window: '5m' }]);
    const at = (deadLettered: number) => (h.sinks = [sink('hook', 'idle', { deadLettered }), sink('archive', 'idle')]);
    at(0);
    await h.round();
    at(5);
    await h.round(MINUTE);
    at(10);
    await h.round(MINUTE);
    assert.equal(h.channel.sent.length, 0, '10 in 5 minutes is 2/min: not above the threshold');
    at(15);
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects(), [
      '[beacon] FIRING rejects: hook (3/min dead letters over 5m, threshold 2/min)',
    ]);
    assert.match(h.channel.sent[0]!.hint, /beacon replay --sink hook/);
    assert.match(h.channel.sent[0]!.hint, /dlq\/hook\.ndjson/);
    await h.round(MINUTE);
    await h.round(MINUTE);
    assert.equal(h.channel.sent.length, 1);
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects().slice(1), [
      '[beacon] RESOLVED rejects: hook (2/min dead letters over 5m, threshold 2/min)',
    ]);
  });
});

describe('the log_usage rule', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('fires at the percentage and resolves below it', async () => {
    h = await alertHarness([{ name: 'log-filling', type: 'log_usage', percent: 80 }]);
    h.log = { bytes: 500, maxBytes: 1000, ratio: 0.5 };
    await h.round();
    h.log = { bytes: 850, maxBytes: 1000, ratio: 0.85 };
    h.sinks = [sink('hook', 'backing_off', { lagEvents: 900 }), sink('archive', 'idle', { lagEvents: 3 })];
    await h.round(MINUTE);
    h.log = { bytes: 700, maxBytes: 1000, ratio: 0.7 };
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects(), [
      '[beacon] FIRING log-filling: log 85.0% full (850 B of 1000 B, threshold 80%)',
      '[beacon] RESOLVED log-filling: log 70.0% full (700 B of 1000 B, threshold 80%)',
    ]);
    assert.equal(h.channel.sent[0]!.values.slowestSink, 'hook');
    assert.match(h.channel.sent[0]!.hint, /Sink "hook" is furthest behind/);
  });

  it('waits `for` when one is set', async () => {
    h = await alertHarness([{ name: 'log-filling', type: 'log_usage', percent: 80, for: '10m' }]);
    h.log = { bytes: 900, maxBytes: 1000, ratio: 0.9 };
    await h.round();
    await h.round(9 * MINUTE);
    assert.equal(h.channel.sent.length, 0);
    await h.round(MINUTE);
    assert.equal(h.channel.sent.length, 1);
  });
});

describe('the http_errors rule', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('counts only the refusals of its status (503 here) and fires above the rate', async () => {
    h = await alertHarness([{ name: 'log-full-503', type: 'http_errors', status: '503', perMinute: 10, window: '1m' }]);
    h.intake = { appended: 0, httpRejected: { BEACON_E_LOG_FULL: 0, BEACON_E_BAD_JSON: 0 } };
    await h.round();
    h.intake = { appended: 0, httpRejected: { BEACON_E_LOG_FULL: 5, BEACON_E_BAD_JSON: 500 } };
    await h.round(MINUTE);
    assert.equal(h.channel.sent.length, 0, '500 bad requests are 4xx, not 503');
    h.intake = { appended: 0, httpRejected: { BEACON_E_LOG_FULL: 40, BEACON_E_BAD_JSON: 500 } };
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects(), [
      '[beacon] FIRING log-full-503: 35/min HTTP 503 refusals over 1m (threshold 10/min)',
    ]);
    assert.match(h.channel.sent[0]!.hint, /BEACON_E_LOG_FULL: the log is full/);
    await h.round(MINUTE);
    assert.equal(h.channel.sent[1]?.status, 'resolved');
  });

  it('matches a status class such as 4xx', async () => {
    h = await alertHarness([{ name: 'bad-clients', type: 'http_errors', status: '4xx', perMinute: 100, window: '1m' }]);
    h.intake = { appended: 0, httpRejected: {} };
    await h.round();
    h.intake = {
      appended: 0,
      httpRejected: { BEACON_E_BAD_JSON: 80, BEACON_E_BODY_TOO_LARGE: 40, BEACON_E_LOG_FULL: 1000 },
    };
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects(), [
      '[beacon] FIRING bad-clients: 120/min HTTP 4xx refusals over 1m (threshold 100/min)',
    ]);
    assert.equal(h.channel.sent[0]!.values.codesSinceStart, 'BEACON_E_BAD_JSON=80, BEACON_E_BODY_TOO_LARGE=40');
  });

  it('reads a counter that went down (a collector restarted) as no refusals, not as a burst', async () => {
    h = await alertHarness([{ name: 'log-full-503', type: 'http_errors', status: '503', perMinute: 10, window: '1m' }]);
    h.intake = { appended: 0, httpRejected: { BEACON_E_LOG_FULL: 1000 } };
    await h.round();
    h.intake = { appended: 0, httpRejected: { BEACON_E_LOG_FULL: 3 } };
    await h.round(30_000);
    h.intake = { appended: 0, httpRejected: { BEACON_E_LOG_FULL: 8 } };
    await h.round(30_000);
    assert.equal(h.channel.sent.length, 0);
  });

  it('keeps its state while the counters cannot be read', async () => {
    h = await alertHarness([{ name: 'log-full-503', type: 'http_errors', status: '503', perMinute: 1, window: '1m' }]);
    h.intake = { appended: 0, httpRejected: { BEACON_E_LOG_FULL: 0 } };
    await h.round();
    h.intake = { appended: 0, httpRejected: { BEACON_E_LOG_FULL: 100 } };
    await h.round(MINUTE);
    h.intake = new Error('no reply over IPC within 5000 ms');
    await h.round(MINUTE);
    await h.round(MINUTE);
    assert.deepEqual(
      h.channel.sent.map((n) => n.status),
      ['firing'],
      'no resolution while blind',
    );
    assert.equal(
      h.logLines.filter((l) => l.event === 'alert_intake_counters_unreadable').length,
      1,
      'logged once, not every round',
    );
  });
});

describe('the no_events rule', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('fires when nothing was stored for `for` since start, and resolves when events come', async () => {
    h = await alertHarness([{ name: 'tracking-broken', type: 'no_events', for: '15m' }]);
    await h.round(5 * MINUTE);
    await h.round(9 * MINUTE);
    assert.equal(h.channel.sent.length, 0);
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects(), ['[beacon] FIRING tracking-broken: no events since Beacon started 15m ago']);
    h.intake = { appended: 3, httpRejected: {} };
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects().slice(1), ['[beacon] RESOLVED tracking-broken: events are arriving again']);
  });

  it('counts the quiet time from the last round in which events arrived', async () => {
    h = await alertHarness([{ name: 'tracking-broken', type: 'no_events', for: '10m' }]);
    for (let i = 1; i <= 5; i++) {
      h.intake = { appended: i * 10, httpRejected: {} };
      await h.round(5 * MINUTE);
    }
    const lastEvent = h.clock.now();
    await h.round(5 * MINUTE);
    assert.equal(h.channel.sent.length, 0);
    await h.round(5 * MINUTE);
    assert.deepEqual(h.channel.subjects(), ['[beacon] FIRING tracking-broken: no events for 10m']);
    assert.equal(h.channel.sent[0]!.since, lastEvent);
  });
});
