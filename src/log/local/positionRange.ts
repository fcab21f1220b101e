import { BeaconError } from '../../errors/beaconError.js';
import type { LogPosition } from '../eventLog.js';
import type { PartitionView } from './partition.js';

/**
 * What a replay position (and a stored cursor position) may hold on the local log: only
 * partitions that exist, each with a whole number from its oldest retained record to its end
 * (the durable watermark: "deliver what comes next"). Anything else is refused rather than
 * read: a position past the end would make the sink skip every event appended until the log
 * got there, silently; an unknown partition name would be kept and never read.
 */
export function checkReplayPosition(position: LogPosition, views: readonly PartitionView[]): void {
  const names = Object.keys(position);
  if (names.length === 0) {
    throw new BeaconError(
      'BEACON_E_REPLAY_POSITION',
      `the position names no partition; this log has ${describeRanges(views)} (or replay from start, end or a time)`,
    );
  }
  for (const name of names) {
    const view = views.find((v) => v.name === name);
    const seq = position[name];
    if (!view) {
      throw new BeaconError(
        'BEACON_E_REPLAY_POSITION',
        `the position names partition ${JSON.stringify(name.slice(0, 100))}, which this log does not have; it has ${describeRanges(views)}`,
        { partition: name },
      );
    }
    const first = view.firstSeq();
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < first || seq > view.durable) {
      throw new BeaconError(
        'BEACON_E_REPLAY_POSITION',
        `position ${name}: ${JSON.stringify(seq)} is outside the range of partition ${name}, ${first}..${view.durable} (its oldest retained record to its end)`,
        { partition: name, first, end: view.durable },
      );
    }
  }
}

/** A stored cursor position may lie before the oldest retained record (retention passed it), never past the end nor in an unknown partition. */
export function storedPositionProblem(position: LogPosition, views: readonly PartitionView[]): string | undefined {
  for (const [name, seq] of Object.entries(position)) {
    const view = views.find((v) => v.name === name);
    if (!view)
      return `it names partition ${JSON.stringify(name.slice(0, 100))}, which this log does not have (it has ${describeRanges(views)})`;
    if (seq > view.durable)
      return `its position ${name}: ${seq} is past the end of partition ${name} (${view.durable})`;
  }
  return undefined;
}

export function describeRanges(views: readonly PartitionView[]): string {
  if (views.length === 0) return 'no partitions yet';
  return views.map((v) => `${v.name} ${v.firstSeq()}..${v.durable}`).join(', ');
}
