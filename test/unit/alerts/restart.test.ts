import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alertHarness, failing, sink, MINUTE } from './harness.js';

const rules = [{ name: 'hook-down', type: 'sink_down', for: '1m' }];

describe('alerts across a restart', () => {
  it('sends the resolution of an alert that fired before the restart, and no second firing', async () => {
    const first = await alertHarness(rules);
    first.sinks = [failing('hook', first.clock.now())];
    await first.round();
    await first.round(MINUTE);
    assert.equal(first.channel.sent.length, 1);
    const stored = JSON.parse(await readFile(join(first.dataDir, 'alerts', 'firing.json'), 'utf8')) as {
      firing: { rule: string; key: string }[];
    };
    assert.deepEqual(
      stored.firing.map((a) => [a.rule, a.key]),
      [['hook-down', 'hook']],
    );
    await first.engine.stop(0);

    const second = await first.restart();
    try {
      second.sinks = [failing('hook', first.clock.now() - MINUTE)];
      await second.round(MINUTE);
      assert.equal(second.channel.sent.length, 0, 'still firing: no new FIRING after the restart');
      second.sinks = [sink('hook', 'idle', { delivered: 10 })];
      await second.round(MINUTE);
      assert.deepEqual(second.channel.subjects(), ['[beacon] RESOLVED hook-down: hook (caught up)']);
      assert.equal(second.channel.sent[0]!.episode, first.channel.sent[0]!.episode);
      const after = JSON.parse(await readFile(join(first.dataDir, 'alerts', 'firing.json'), 'utf8')) as {
        firing: unknown[];
      };
      assert.deepEqual(after.firing, []);
    } finally {
      await second.close();
      await rm(first.dataDir, { recursive: true, force: true });
    }
  });

  it('drops a stored alert whose rule is gone, and starts fresh from an unreadable state file', async () => {
    const first = await alertHarness(rules);
    try {
      await first.engine.stop(0);
      await mkdir(join(first.dataDir, 'alerts'), { recursive: true });
      await writeFile(
        join(first.dataDir, 'alerts', 'firing.json'),
        JSON.stringify({ version: 1, firing: [{ rule: 'gone', key: '', since: 0, firedAt: 0, lastNotifiedAt: 0 }] }),
      );
      const second = await first.restart();
      assert.deepEqual(second.engine.firing(), []);
      assert.ok(second.logLines.some((l) => l.event === 'alert_state_dropped' && l.rule === 'gone'));
      await second.engine.stop(0);
      await writeFile(join(first.dataDir, 'alerts', 'firing.json'), '{not json');
      const third = await first.restart();
      assert.ok(third.logLines.some((l) => l.event === 'alert_state_unreadable'));
      third.sinks = [failing('hook', third.clock.now())];
      await third.round(MINUTE);
      assert.equal(third.channel.sent.length, 1, 'works as from a clean start');
      await third.engine.stop(0);
    } finally {
      await rm(first.dataDir, { recursive: true, force: true });
    }
  });
});
