import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { alertHarness, failing, sink, MINUTE, type Harness } from './harness.js';

describe('the sink_down rule', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('fires once the sink has been failing for `for`, not before', async () => {
    h = await alertHarness([{ name: 'hook-down', type: 'sink_down', for: '5m' }]);
    const start = h.clock.now();
    h.sinks = [failing('hook', start), sink('archive', 'idle')];
    await h.round();
    await h.round(4 * MINUTE);
    assert.deepEqual(h.channel.subjects(), [], 'nothing while pending');
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects(), ['[beacon] FIRING hook-down: hook (backing off 5m)']);
    const n = h.channel.sent[0]!;
    assert.equal(n.instance, 'hook');
    assert.equal(n.since, start);
    assert.equal(n.values.lastError, 'connect ECONNREFUSED 127.0.0.1:9');
    assert.match(n.hint, /beacon status/);
  });

  it('counts `for` from the first failure, even when it is first seen later', async () => {
    h = await alertHarness([{ name: 'hook-down', type: 'sink_down', for: '5m' }]);
    h.sinks = [failing('hook', h.clock.now() - 5 * MINUTE)];
    await h.round();
    assert.equal(h.channel.sent.length, 1);
  });

  it('keeps a sink down through its probes (a delivering attempt between back-offs with nothing delivered)', async () => {
    h = await alertHarness([{ name: 'hook-down', type: 'sink_down', for: '3m' }]);
    const start = h.clock.now();
    h.sinks = [failing('hook', start)];
    await h.round();
    h.sinks = [failing('hook', start, { state: 'delivering' })];
    await h.round(2 * MINUTE);
    h.sinks = [failing('hook', start + 2 * MINUTE)];
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects(), ['[beacon] FIRING hook-down: hook (backing off 3m)']);
  });

  it('sends nothing when the sink recovers before `for`', async () => {
    h = await alertHarness([{ name: 'hook-down', type: 'sink_down', for: '5m' }]);
    h.sinks = [failing('hook', h.clock.now())];
    await h.round();
    h.sinks = [sink('hook', 'idle', { delivered: 10 })];
    await h.round(2 * MINUTE);
    h.sinks = [failing('hook', h.clock.now())];
    await h.round(4 * MINUTE);
    assert.deepEqual(h.channel.subjects(), [], 'a new failure starts a new count');
  });

  it('sends one message when it resolves, and none after', async () => {
    h = await alertHarness([{ name: 'hook-down', type: 'sink_down', for: '1m' }]);
    h.sinks = [failing('hook', h.clock.now())];
    await h.round();
    await h.round(MINUTE);
    await h.round(MINUTE);
    h.sinks = [sink('hook', 'delivering', { delivered: 5, lagEvents: 100, errors: 3 })];
    await h.round(MINUTE);
    h.sinks = [sink('hook', 'idle', { delivered: 105, errors: 3 })];
    await h.round(MINUTE);
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects(), [
      '[beacon] FIRING hook-down: hook (backing off 1m)',
      '[beacon] RESOLVED hook-down: hook (delivering again)',
    ]);
    const [fired, resolved] = h.channel.sent;
    assert.equal(resolved!.episode, fired!.episode, 'the resolution names the same episode');
    assert.equal(resolved!.resolvedAt! - resolved!.firedAt, 2 * MINUTE);
  });

  it('does not repeat within renotifyAfter, and reminds once it has passed', async () => {
    h = await alertHarness([{ name: 'hook-down', type: 'sink_down', for: '1m' }], { renotifyAfter: '1h' });
    h.sinks = [failing('hook', h.clock.now())];
    await h.round();
    await h.round(MINUTE);
    for (let i = 0; i < 5; i++) await h.round(10 * MINUTE);
    assert.equal(h.channel.sent.length, 1, 'one message in the first 50 minutes of firing');
    await h.round(10 * MINUTE);
    assert.deepEqual(h.channel.subjects().slice(1), ['[beacon] STILL FIRING hook-down: hook (backing off 1h 1m)']);
    assert.equal(h.channel.sent[1]!.reminder, true);
    await h.round(30 * MINUTE);
    assert.equal(h.channel.sent.length, 2, 'the next reminder waits another hour');
    await h.round(30 * MINUTE);
    assert.equal(h.channel.sent.length, 3);
  });

  it('never reminds with renotifyAfter 0', async () => {
    h = await alertHarness([{ name: 'hook-down', type: 'sink_down', for: '1m' }], { renotifyAfter: 0 });
    h.sinks = [failing('hook', h.clock.now())];
    await h.round();
    for (let i = 0; i < 10; i++) await h.round(60 * MINUTE);
    assert.equal(h.channel.sent.length, 1);
  });

  it('alerts per sink, and only for the named sink when `sink` is set', async () => {
    h = await alertHarness([
      { name: 'any-down', type: 'sink_down', for: '1m' },
      { name: 'archive-down', type: 'sink_down', for: '1m', sink: 'archive' },
    ]);
    const now = h.clock.now();
    h.sinks = [failing('hook', now), failing('archive', now, { state: 'fatal', since: new Date(now).toISOString() })];
    await h.round();
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects().sort(), [
      '[beacon] FIRING any-down: archive (stopped on a fatal error)',
      '[beacon] FIRING any-down: hook (backing off 1m)',
      '[beacon] FIRING archive-down: archive (stopped on a fatal error)',
    ]);
    const gauge = await h.metrics.alertsFiring.get();
    assert.deepEqual(Object.fromEntries(gauge.values.map((v) => [v.labels.rule, v.value])), {
      'any-down': 2,
      'archive-down': 1,
    });
  });

  it('holds its state while a sink is stopping or on its very first attempt', async () => {
    h = await alertHarness([{ name: 'hook-down', type: 'sink_down', for: '1m' }]);
    h.sinks = [failing('hook', h.clock.now())];
    await h.round();
    await h.round(MINUTE);
    h.sinks = [sink('hook', 'stopped', { errors: 4 })];
    await h.round(MINUTE);
    h.sinks = [sink('hook', 'delivering')];
    await h.round(MINUTE);
    assert.deepEqual(h.channel.subjects(), ['[beacon] FIRING hook-down: hook (backing off 1m)']);
  });
});
