import type { TrackedEvent } from '../event/trackedEvent.js';

/**
 * One enrichment step. `apply` reads the event and writes its findings into `event.meta`
 * (or, for IP anonymisation, rewrites `event.ip`) in place. A step never throws on bad input:
 * it skips what it cannot read, or sets a flag in `meta`. The chain still guards every call,
 * so a bug in one step costs that step's result, never the event.
 */
export interface EnrichStep {
  readonly name: string;
  apply(event: TrackedEvent): void;
  /** Called once after each batch of events: publish counts gathered per event (cheaper than a metric call per event). */
  flush?(): void;
  /**
   * Called once the append of these events succeeded (`durable`) or failed (log full,
   * closing). A step that remembers events for later (duplicate memories) remembers them only
   * once durable: a client retries what failed, and the retry must not count as a repeat.
   */
  settled?(events: readonly TrackedEvent[], durable: boolean): void;
  /**
   * Called at start with the ids of the last events found stored in this process's log
   * partition. A kill can land after an append was durable and before `settled` ran; a memory
   * that must hold every stored id (the id memory) learns those here.
   */
  recovered?(ids: readonly string[]): void;
}
