import type { TrackedEvent } from '../event/trackedEvent.js';
import { takesEvent, type BadStreamChoice } from '../schemas/badStream.js';

/** What one sink takes from each batch it reads: its `types` (if listed) and its `badStream` choice. */
export interface EventFilter {
  /**
   * The wanted events of a batch, in log order, and how many were passed over by each filter
   * (an event refused by its type is not also counted against the bad stream). Returns the same
   * array when every event is wanted, so the common case allocates nothing.
   */
  select(events: readonly TrackedEvent[]): {
    wanted: readonly TrackedEvent[];
    skippedByType: number;
    skippedByBadStream: number;
  };
}

/** undefined when the sink takes every event (no `types`, `badStream: include`). */
export function createEventFilter(config: {
  types?: readonly string[] | undefined;
  badStream?: BadStreamChoice | undefined;
}): EventFilter | undefined {
  const types = config.types ? new Set(config.types) : undefined;
  const badStream = config.badStream ?? 'exclude';
  if (types === undefined && badStream === 'include') return undefined;
  const keep = (e: TrackedEvent): 'type' | 'bad_stream' | undefined => {
    if (types !== undefined && !types.has(e.type)) return 'type';
    if (!takesEvent(e, badStream)) return 'bad_stream';
    return undefined;
  };
  return {
    select(events) {
      let first = -1;
      for (let i = 0; i < events.length; i++) {
        if (keep(events[i]!) !== undefined) {
          first = i;
          break;
        }
      }
      if (first === -1) return { wanted: events, skippedByType: 0, skippedByBadStream: 0 };
      const wanted = events.slice(0, first);
      let skippedByType = 0;
      let skippedByBadStream = 0;
      for (let i = first; i < events.length; i++) {
        const event = events[i]!;
        const why = keep(event);
        if (why === undefined) wanted.push(event);
        else if (why === 'type') skippedByType++;
        else skippedByBadStream++;
      }
      return { wanted, skippedByType, skippedByBadStream };
    },
  };
}
