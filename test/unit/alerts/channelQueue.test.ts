import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AlertEvents } from '../../../src/alerts/internalEvents.js';
import { ChannelError } from '../../../src/alerts/channels/channel.js';
import { ChannelQueue } from '../../../src/alerts/channels/channelQueue.js';
import type { AlertNotification } from '../../../src/alerts/notification.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { captureLogger, FakeClock } from '../dispatch/fakes.js';
import { RecordingChannel } from './harness.js';

function notification(rule: string, status: AlertNotification['status'] = 'firing'): AlertNotification {
  const at = Date.UTC(2024, 4, 1, 10, 0, 0);
  return {
    status,
    reminder: false,
    episode: `${rule}/-/${at}`,
    rule,
    type: 'log_usage',
    summary: 'log 90% full',
    since: at,
    firedAt: at,
    at,
    values: {},
    hint: 'x',
    forMs: 0,
    renotifyAfterMs: 0,
    beacon: { version: 't', host: 'h', url: 'http://127.0.0.1:8290' },
  };
}

function setup(retryForMs = 600_000) {
  const clock = new FakeClock();
  const metrics = createMetrics();
  const { logger, lines } = captureLogger();
  const channel = new RecordingChannel('ops');
  const queue = new ChannelQueue({ channel, retryForMs, clock, events: new AlertEvents(logger, metrics) });
  const counts = async () =>
    Object.fromEntries((await metrics.alertNotifications.get()).values.map((v) => [v.labels.result, v.value]));
  return { clock, channel, queue, lines, counts };
}

describe('a channel queue', () => {
  it('retries a failed message with back-off (1 s, 2 s, ...) until it goes out', async () => {
    const { clock, channel, queue, counts } = setup();
    channel.fail = (attempt) => (attempt <= 2 ? new ChannelError('connect ECONNREFUSED', false) : undefined);
    queue.enqueue(notification('a'));
    assert.equal(await clock.nextSleep(), 1000);
    clock.advance(1000);
    assert.equal(await clock.nextSleep(), 2000);
    clock.advance(2000);
    await queue.idle();
    assert.equal(channel.sent.length, 1);
    assert.deepEqual(await counts(), { failed: 2, sent: 1 });
  });

  it('keeps messages in order behind a failing one', async () => {
    const { clock, channel, queue } = setup();
    channel.fail = (attempt) => (attempt === 1 ? new ChannelError('timeout', false) : undefined);
    queue.enqueue(notification('first'));
    queue.enqueue(notification('first', 'resolved'));
    await clock.nextSleep();
    clock.advance(1000);
    await queue.idle();
    assert.deepEqual(
      channel.sent.map((n) => n.status),
      ['firing', 'resolved'],
    );
  });

  it('does not retry a permanent failure, and logs it with its code', async () => {
    const { channel, queue, lines, counts } = setup();
    channel.fail = () => new ChannelError('535 authentication failed', true);
    queue.enqueue(notification('a'));
    await queue.idle();
    assert.equal(channel.attempts, 1);
    assert.deepEqual(await counts(), { failed: 1, dropped: 1 });
    const dropped = lines.find((l) => l.event === 'alert_notification_dropped')!;
    assert.equal(dropped.code, 'BEACON_E_ALERT_NOTIFY');
    assert.match(String(dropped.reason), /cannot succeed; last error: 535 authentication failed/);
  });

  it('gives up once retryFor has passed', async () => {
    const { clock, channel, queue, counts } = setup(5000);
    channel.fail = () => new Error('socket hang up');
    queue.enqueue(notification('a'));
    clock.advance((await clock.nextSleep()) + 0);
    clock.advance(await clock.nextSleep());
    await queue.idle();
    assert.equal(channel.attempts, 3, 'attempts at 0 s, 1 s and 3 s; the next would start after 5 s');
    assert.deepEqual(await counts(), { failed: 3, dropped: 1 });
  });

  it('drops the oldest message when too many wait', async () => {
    const clock = new FakeClock();
    const metrics = createMetrics();
    const { logger } = captureLogger();
    const channel = new RecordingChannel('ops');
    channel.fail = (attempt) => (attempt === 1 ? new ChannelError('down', false) : undefined);
    const queue = new ChannelQueue({
      channel,
      retryForMs: 60_000,
      clock,
      events: new AlertEvents(logger, metrics),
      maxQueued: 2,
    });
    for (const rule of ['a', 'b', 'c', 'd']) queue.enqueue(notification(rule));
    clock.advance(await clock.nextSleep());
    await queue.idle();
    assert.deepEqual(
      channel.sent.map((n) => n.rule),
      ['a', 'c', 'd'],
      '"a" was in flight; "b" was the oldest waiting',
    );
  });

  it('on stop, makes one last attempt instead of waiting out the back-off, then closes the channel', async () => {
    const { clock, channel, queue, counts } = setup();
    channel.fail = () => new ChannelError('down', false);
    queue.enqueue(notification('a'));
    await clock.nextSleep();
    await queue.stop(1000);
    assert.equal(channel.attempts, 2);
    assert.equal(channel.closed, true);
    assert.deepEqual(await counts(), { failed: 2, dropped: 1 });
    queue.enqueue(notification('b'));
    assert.equal((await counts()).dropped, 2, 'a message after stop is dropped at once');
  });
});
