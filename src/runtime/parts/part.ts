/**
 * A process is a list of parts. Each role (src/runtime/roles.ts) is a choice of parts, started
 * in the order its assembly needs and stopped by the one rule below, so the shutdown order is
 * written once for every process shape.
 *
 * The stop order, by stage (parts of one stage stop together):
 *   live       viewers first: their sockets would otherwise hold the HTTP drain open to its deadline
 *   intake     stop accepting (HTTP drain, queue sources, collector processes, the API server);
 *              the requests under way finish and their appends are durable
 *   logWriter  where the writing side of the log is apart from the reading side (the delivery
 *              thread), close it: every acknowledged event is synced before delivery finishes
 *   delivery   sink loops flush what they hold and commit their cursors; alerts send what is queued
 *   store      the embedded store, after its internal sink `_store` stopped writing
 *   log        the log (its reader): cursor positions persisted
 */
export const STOP_STAGES = ['live', 'intake', 'logWriter', 'delivery', 'store', 'log'] as const;
export type StopStage = (typeof STOP_STAGES)[number];

export interface Part {
  /** What it is, named in the shutdown log and in errors (intake, delivery, store, api, live, alerts, log...). */
  name: string;
  /** When it stops, relative to the other parts. */
  stage: StopStage;
  stop(): Promise<void>;
}

/** A part from a name, a stage and its stop. */
export function part(name: string, stage: StopStage, stop: () => Promise<void> | void): Part {
  return { name, stage, stop: async () => stop() };
}
