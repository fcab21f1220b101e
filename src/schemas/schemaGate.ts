import type { TrackedEvent } from '../event/trackedEvent.js';
import type { ErrorCode } from '../errors/codes.js';
import type { SchemaCounter } from './schemaCounter.js';
import type { SchemaSet } from './schemaSet.js';

/**
 * Strict mode at an HTTP intake: the check runs where the answer is built, so an invalid event
 * is refused with its reasons (400, or its entry in a batch's `rejected`) before anything is
 * appended. An event that passes is marked, and the enrichment chain's schema step does not
 * check it again.
 */
export type StrictSchemaCheck = (event: TrackedEvent) => { code: ErrorCode; message: string } | undefined;

/** Reasons shown in one refusal message; the full list is at most MAX_REASONS anyway. */
const REASONS_IN_MESSAGE = 3;

const checked = new WeakSet<object>();

/** True when a strict intake already found this event valid. */
export function wasChecked(event: object): boolean {
  return checked.has(event);
}

export function strictSchemaCheck(schemas: SchemaSet, counter: SchemaCounter): StrictSchemaCheck {
  return (event) => {
    const violation = schemas.check(event.type, event.props);
    if (violation === undefined) {
      checked.add(event);
      return undefined;
    }
    counter.count(event.type, violation, 'rejected');
    const shown = violation.reasons.slice(0, REASONS_IN_MESSAGE).join('; ');
    const more =
      violation.reasons.length > REASONS_IN_MESSAGE
        ? ` (and ${violation.reasons.length - REASONS_IN_MESSAGE} more)`
        : '';
    return {
      code: 'BEACON_E_SCHEMA_INVALID',
      message: `event type "${event.type}" does not match its schema: ${shown}${more}`,
    };
  };
}
