import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/ops/logger.js';
import { ProcessParts } from '../../../src/runtime/parts/processParts.js';
import { part, STOP_STAGES, type StopStage } from '../../../src/runtime/parts/part.js';
import { deliveryThread } from '../../../src/runtime/run.js';

/** A part that records when its stop begins and ends, and takes `ms` to stop. */
function recorded(name: string, stage: StopStage, log: string[], ms = 5) {
  return part(name, stage, async () => {
    log.push(`${name} begins`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`${name} ends`);
  });
}

describe('a process as a list of parts', () => {
  it('stops its parts stage by stage in the one order, whatever order they were added in', async () => {
    const parts = new ProcessParts(silentLogger);
    const log: string[] = [];
    parts.add(recorded('log', 'log', log));
    parts.add(recorded('store', 'store', log));
    parts.add(recorded('delivery', 'delivery', log));
    parts.add(recorded('intake', 'intake', log));
    parts.add(recorded('live', 'live', log));
    parts.add(recorded('log writer', 'logWriter', log));
    await parts.stop();
    assert.deepEqual(log, [
      'live begins',
      'live ends',
      'intake begins',
      'intake ends',
      'log writer begins',
      'log writer ends',
      'delivery begins',
      'delivery ends',
      'store begins',
      'store ends',
      'log begins',
      'log ends',
    ]);
    assert.deepEqual([...STOP_STAGES], ['live', 'intake', 'logWriter', 'delivery', 'store', 'log']);
  });

  it('stops the parts of one stage together (the dispatcher and the alerts)', async () => {
    const parts = new ProcessParts(silentLogger);
    const log: string[] = [];
    parts.add(recorded('delivery', 'delivery', log, 20));
    parts.add(recorded('alerts', 'delivery', log, 5));
    await parts.stop();
    assert.deepEqual(log, ['delivery begins', 'alerts begins', 'alerts ends', 'delivery ends']);
  });

  it('is ready only between markReady and the first stop, and tells its stopping listeners before any part stops', async () => {
    const parts = new ProcessParts(silentLogger);
    const log: string[] = [];
    parts.add(recorded('intake', 'intake', log));
    assert.equal(parts.ready, false, 'not ready while starting');
    parts.markReady();
    assert.equal(parts.ready, true);
    parts.onStopping(() => log.push(`told, ready=${parts.ready}`));
    const stopping = parts.stop();
    assert.equal(parts.ready, false, 'not ready as soon as stopping begins');
    await stopping;
    assert.deepEqual(log, ['told, ready=false', 'intake begins', 'intake ends']);
  });

  it('runs its stop once when asked twice (a signal and the primary at the same time)', async () => {
    const parts = new ProcessParts(silentLogger);
    const log: string[] = [];
    parts.add(recorded('intake', 'intake', log));
    await Promise.all([parts.stop(), parts.stop()]);
    assert.deepEqual(log, ['intake begins', 'intake ends']);
  });
});

describe('server.deliveryThread', () => {
  it('runs delivery on its own thread when on, or when auto with two or more cores, and never when off', () => {
    assert.equal(deliveryThread('on', 1), true);
    assert.equal(deliveryThread('auto', 2), true);
    assert.equal(deliveryThread('auto', 1), false);
    assert.equal(deliveryThread('off', 8), false);
  });
});
