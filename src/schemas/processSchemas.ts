import type { BeaconConfig } from '../config/schema.js';
import type { Metrics } from '../ops/metrics.js';
import { SchemaCounter } from './schemaCounter.js';
import { strictSchemaCheck, type StrictSchemaCheck } from './schemaGate.js';
import { SchemaSet } from './schemaSet.js';

/** One compiled set per config, so the HTTP intake, the queue sources and `beacon start`'s early check share it. */
const perConfig = new WeakMap<BeaconConfig, SchemaSet | null>();

/**
 * The process's schemas for `config` (read and compiled on the first call; throws
 * BEACON_E_SCHEMA_LOAD), or undefined when none are configured.
 */
export function processSchemaSet(config: BeaconConfig): SchemaSet | undefined {
  let set = perConfig.get(config);
  if (set === undefined) {
    const loaded = SchemaSet.load(config.schemas);
    set = loaded.empty ? null : loaded;
    perConfig.set(config, set);
  }
  return set ?? undefined;
}

/** The HTTP intake's strict check, or undefined when schemas are off or in `bad` mode. */
export function processStrictCheck(config: BeaconConfig, metrics: Metrics): StrictSchemaCheck | undefined {
  const set = processSchemaSet(config);
  if (set === undefined || config.schemas.mode !== 'strict') return undefined;
  return strictSchemaCheck(set, new SchemaCounter(metrics, (t) => set.has(t)));
}
