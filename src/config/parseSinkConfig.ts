import { BeaconError } from '../errors/beaconError.js';
import { SINK_DEFINITIONS, type SinkConfig } from '../sinks/registry.js';
import { registryUnion } from './partsSchema.js';

const sinkConfigUnion = registryUnion(SINK_DEFINITIONS);

/**
 * Parses one sink config that did not come through loadConfig (tests, benchmarks, embedding)
 * with the schema `sinks:` uses, so the Dispatcher gets it as loadConfig would give it:
 * defaults filled in, typed by its sink. Refuses with BEACON_E_CONFIG_FIELD naming the field.
 */
export function parseSinkConfig(raw: { name?: unknown } & Record<string, unknown>): SinkConfig {
  const result = sinkConfigUnion.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = ['sinks', String(raw.name), ...(issue?.path ?? []).map(String)].join('.');
  throw new BeaconError('BEACON_E_CONFIG_FIELD', `${field}: ${issue?.message ?? 'invalid'}`, { field });
}
