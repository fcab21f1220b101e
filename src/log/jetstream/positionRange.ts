import type { JetStreamManager } from '@nats-io/jetstream';
import { BeaconError } from '../../errors/beaconError.js';
import type { LogPosition } from '../eventLog.js';

/**
 * A replay position on the JetStream log is `{"seq": <stream sequence>}`: the first message to
 * deliver again, from the oldest the stream still holds to the one after its last ("what comes
 * next"). A batch's own position (`{"n", "seq"}`, as `read` returns it) is taken too: its `n`
 * only counts what that cursor handed out. Anything else is refused: a sequence past the end would make the sink's consumer skip
 * everything published until the stream got there, and a local-log position (`{"p0": ...}`)
 * names no stream sequence at all.
 */
export async function checkStreamPosition(
  jsm: JetStreamManager,
  stream: string,
  position: LogPosition,
): Promise<number> {
  const names = Object.keys(position).filter((name) => name !== 'n');
  const { first, end } = await streamRange(jsm, stream);
  const range = `stream ${stream} holds ${first}..${end} (its oldest message to the one after its last)`;
  if (names.length !== 1 || names[0] !== 'seq') {
    throw new BeaconError(
      'BEACON_E_REPLAY_POSITION',
      `a position on the jetstream log is {"seq": <stream sequence>}, not ${JSON.stringify(names.slice(0, 5))}; ${range}`,
      { partition: names[0] },
    );
  }
  const seq = position.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < first || seq > end) {
    throw new BeaconError(
      'BEACON_E_REPLAY_POSITION',
      `position seq: ${JSON.stringify(seq)} is outside the range of the log: ${range}`,
      { partition: 'seq', first, end },
    );
  }
  return seq;
}

async function streamRange(jsm: JetStreamManager, stream: string): Promise<{ first: number; end: number }> {
  const { state } = await jsm.streams.info(stream);
  const end = state.last_seq + 1;
  // An empty stream (new, or every message acked away) holds nothing before its next sequence.
  return { first: state.messages === 0 ? end : Math.max(1, state.first_seq), end };
}
