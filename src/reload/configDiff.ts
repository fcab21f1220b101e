import { isDeepStrictEqual } from 'node:util';
import type { BeaconConfig } from '../config/schema.js';
import type { SinkConfig } from '../sinks/registry.js';

export type { SinkConfig } from '../sinks/registry.js';

/**
 * What a config reload changes. Only `sinks` apply to a running Beacon; every other section
 * holds things that are built once at start (the listening socket, the log, collector
 * processes, the enrichment chain, the API's tokens and cache, alert rules...), so a change
 * there is reported in `needsRestart` and the running values are kept.
 */
export interface ConfigDiff {
  sinks: {
    /** In the new config only: started, reading from the end of the log. */
    added: SinkConfig[];
    /** In the running config only: stopped after their batch in flight, cursor persisted. */
    removed: string[];
    /** In both with different settings: restarted with the new ones from their committed cursor. */
    changed: SinkConfig[];
    unchanged: string[];
  };
  /** Dotted paths (at most two levels, e.g. `server.port`, `log`) that differ outside `sinks`. */
  needsRestart: string[];
}

/** Compares two validated configs (defaults filled in, so an omitted default equals a written one). */
export function diffConfig(running: BeaconConfig, next: BeaconConfig): ConfigDiff {
  const before = new Map(running.sinks.map((s) => [s.name, s]));
  const after = new Map(next.sinks.map((s) => [s.name, s]));
  const sinks: ConfigDiff['sinks'] = { added: [], removed: [], changed: [], unchanged: [] };
  for (const [name, sink] of after) {
    const old = before.get(name);
    if (old === undefined) sinks.added.push(sink);
    else if (isDeepStrictEqual(old, sink)) sinks.unchanged.push(name);
    else sinks.changed.push(sink);
  }
  for (const name of before.keys()) if (!after.has(name)) sinks.removed.push(name);

  const needsRestart: string[] = [];
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]);
  for (const key of [...keys].sort()) {
    if (key === 'sinks') continue;
    needsRestart.push(
      ...differingPaths(key, (running as Record<string, unknown>)[key], (next as Record<string, unknown>)[key]),
    );
  }
  return { sinks, needsRestart };
}

/** `key` when the values differ; for two plain objects, the differing keys one level down instead. */
function differingPaths(key: string, a: unknown, b: unknown): string[] {
  if (isDeepStrictEqual(a, b)) return [];
  if (!isPlainObject(a) || !isPlainObject(b) || a.type !== b.type) return [key];
  const inner = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...inner]
    .sort()
    .filter((k) => !isDeepStrictEqual(a[k], b[k]))
    .map((k) => `${key}.${k}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
