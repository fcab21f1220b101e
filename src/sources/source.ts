import type { TrackedEvent } from '../event/trackedEvent.js';

/**
 * A source turns outside input into events. `emit` resolves only when the events are durable
 * in the log, so a source acknowledges its input (HTTP 2xx, AMQP ack) after `emit` resolves
 * and never before. `emit` rejects with a BeaconError (e.g. BEACON_E_LOG_FULL) when the log
 * cannot take them; the source then refuses its input so the sender retries.
 */
export type Emit = (events: TrackedEvent[]) => Promise<void>;

export interface Source {
  readonly name: string;
  start(emit: Emit): Promise<void>;
  /** Stops taking new input and resolves when in-flight input has been emitted or refused. */
  stop(): Promise<void>;
}
