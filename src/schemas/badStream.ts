import type { TrackedEvent } from '../event/trackedEvent.js';

/**
 * The bad stream: events written to the log although their props failed their schema
 * (`schemas.mode: bad`). They carry `meta.invalid` and reach only sinks with `badStream: only`
 * or `include`, so a normal sink never sees an event that breaks its contract.
 */
export interface InvalidMark {
  /** The event type whose schema it failed (or that has none, with `requireSchema`). */
  schema: string;
  /** Readable reasons, e.g. `props.plan must be one of "free", "pro"`; at most MAX_REASONS. */
  reasons: string[];
}

/** What a sink does with the bad stream (its config `badStream`). */
export type BadStreamChoice = 'exclude' | 'only' | 'include';

export function isBadEvent(event: TrackedEvent): boolean {
  const invalid = event.meta?.invalid;
  return typeof invalid === 'object' && invalid !== null;
}

export function takesEvent(event: TrackedEvent, choice: BadStreamChoice): boolean {
  return choice === 'include' || isBadEvent(event) === (choice === 'only');
}
