import type { TrackedEvent } from '../event/trackedEvent.js';
import type { InvalidMark } from '../schemas/badStream.js';
import type { SchemaCounter } from '../schemas/schemaCounter.js';
import { wasChecked } from '../schemas/schemaGate.js';
import type { SchemaSet } from '../schemas/schemaSet.js';
import type { EnrichStep } from './step.js';

/**
 * Schema validation for every intake: an event whose props fail its type's schema is flagged
 * `meta.invalid: {schema, reasons}` and so joins the bad stream (docs/schemas.md). Events a
 * strict HTTP intake already passed are skipped; queue-source events, which have nobody to
 * answer, are flagged in strict mode too rather than lost.
 */
export function schemaStep(options: { schemas: SchemaSet; counter: SchemaCounter }): EnrichStep {
  const { schemas, counter } = options;
  return {
    name: 'schema',
    apply(event: TrackedEvent): void {
      if (wasChecked(event)) return;
      const type: unknown = event.type;
      if (typeof type !== 'string') return;
      const violation = schemas.check(type, event.props);
      if (violation === undefined) return;
      const mark: InvalidMark = { schema: type, reasons: violation.reasons };
      event.meta.invalid = mark;
      counter.count(type, violation, 'flagged');
    },
  };
}
