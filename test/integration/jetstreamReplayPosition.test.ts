import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { isBeaconError } from '../../src/errors/beaconError.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import type { Cursor, LogPosition } from '../../src/log/eventLog.js';
import { jetstreamLogSchema, openJetStreamLog } from '../../src/log/jetstream/index.js';
import { silentLogger } from '../../src/ops/logger.js';

/**
 * Replay positions on the JetStream log (the machine's nats-server, a stream of this run's own):
 * `{"seq": n}` within the stream's range moves the sink's consumer there; anything else is a
 * coded refusal naming the range, and never a replay of the whole stream.
 */
const NATS = 'nats://127.0.0.1:4222';
const run = randomBytes(4).toString('hex');
const stream = `beacon-jrp-${run}`;
const admin = await connect({ servers: NATS });
const jsm = await jetstreamManager(admin);

after(async () => {
  await jsm.streams.delete(stream).catch(() => undefined);
  await admin.close();
});

const event = (id: string): TrackedEvent => ({ id, type: 'page_view', ts: Date.now(), props: {}, meta: {} });

async function readIds(cursor: Cursor): Promise<string[]> {
  const ids: string[] = [];
  for (let batch = await cursor.read(100, 500); batch.events.length > 0; batch = await cursor.read(100, 500))
    ids.push(...batch.events.map((e) => e.id));
  return ids;
}

describe('replay positions on the JetStream log', { timeout: 60_000 }, () => {
  test('refuses a position outside the stream, naming its range, and moves to one inside', async () => {
    const config = jetstreamLogSchema.parse({
      type: 'jetstream',
      servers: [NATS],
      stream,
      subject: `beacon-jrp.${run}`,
      maxBytes: '16MiB',
      connectTimeout: '5s',
    });
    const log = await openJetStreamLog({ config, logger: silentLogger, cursorNames: ['archive'] });
    try {
      await log.append(['a', 'b', 'c', 'd'].map(event));
      const cursor = await log.cursor('archive');
      const bad: [LogPosition, RegExp][] = [
        [{ seq: 1000 }, /position seq: 1000 is outside the range of the log: stream .* holds 1\.\.5/],
        [{ seq: 0 }, /holds 1\.\.5/],
        [{ seq: -3 }, /holds 1\.\.5/],
        [{ p0: 2 }, /a position on the jetstream log is \{"seq": <stream sequence>\}, not \["p0"\]/],
        [{}, /not \[\]/],
      ];
      for (const [position, message] of bad) {
        try {
          await cursor.seek({ kind: 'position', position });
          assert.fail(`${JSON.stringify(position)} was accepted`);
        } catch (err) {
          assert.ok(isBeaconError(err), String(err));
          assert.equal(err.code, 'BEACON_E_REPLAY_POSITION');
          assert.match(err.message, message);
        }
      }
      await cursor.seek({ kind: 'position', position: { seq: 3 } });
      assert.deepEqual(await readIds(cursor), ['c', 'd']);
    } finally {
      await log.close();
    }
  });
});
