import type { TrackedEvent } from '../event/trackedEvent.js';
import type { EnrichStep } from './step.js';

/**
 * `meta.clockSkewMs = ts - clientTs`: server receive time minus the time the client says the
 * event happened. Positive for events sent late (queued offline, batched) or from a clock that
 * runs behind; negative for a clock that runs ahead. Events without a client time get nothing.
 */
export function clockSkewStep(): EnrichStep {
  return {
    name: 'clockSkew',
    apply(event: TrackedEvent): void {
      const clientTs: unknown = event.clientTs;
      const ts: unknown = event.ts;
      if (typeof clientTs !== 'number' || typeof ts !== 'number') return;
      const skew = ts - clientTs;
      if (Number.isFinite(skew)) event.meta.clockSkewMs = skew;
    },
  };
}
