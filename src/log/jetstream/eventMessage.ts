import type { Msg } from '@nats-io/transport-node';
import { fromLog } from '../../event/codecs/json.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';

const decoder = new TextDecoder();

/**
 * A message of the log's stream as an event: its payload is the json codec's text of the event
 * (what the local log stores in a record), kept beside it so a json sink writes it unchanged.
 * Undefined when the payload is not an event (something else published on `log.subject`).
 */
export function eventOf(msg: Msg): TrackedEvent | undefined {
  const text = decoder.decode(msg.data);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const e = parsed as Partial<TrackedEvent>;
  if (typeof e.id !== 'string' || typeof e.type !== 'string' || typeof e.ts !== 'number') return undefined;
  return fromLog(e as TrackedEvent, text);
}
