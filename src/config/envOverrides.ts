import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { keysAt, isArrayAt } from './schemaWalk.js';

/**
 * Applies `BEACON_` environment variables onto the raw config: `__` separates levels and
 * names match config keys case-insensitively (`BEACON_SERVER__PORT=9000`,
 * `BEACON_DISPATCH__MAXFAILOVERDURATION=10s`, `BEACON_SINKS__0__URL=...`). Values are read
 * as YAML scalars so numbers and booleans keep their types. Variables whose first part is
 * not a top-level config key are ignored (they may belong to tooling).
 */
export interface EnvOverride {
  variable: string;
  path: (string | number)[];
}

export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  schema: z.ZodType,
): EnvOverride[] {
  const applied: EnvOverride[] = [];
  const topKeys = keysAt(schema, [], raw);
  for (const [variable, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!variable.startsWith('BEACON_') || value === undefined) continue;
    const parts = variable.slice('BEACON_'.length).split('__');
    if (!topKeys.some((k) => k.toLowerCase() === parts[0]!.toLowerCase())) continue;

    const path: (string | number)[] = [];
    let node: Record<string, unknown> | unknown[] = raw;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      let key: string | number;
      if (isArrayAt(schema, path, raw) && /^\d+$/.test(part)) {
        key = Number(part);
      } else {
        const known = keysAt(schema, path, raw);
        key = known.find((k) => k.toLowerCase() === part.toLowerCase()) ?? part.toLowerCase();
      }
      path.push(key);
      const container = node as Record<string | number, unknown>;
      if (i === parts.length - 1) {
        container[key] = parseScalar(value);
      } else {
        if (container[key] === undefined || container[key] === null || typeof container[key] !== 'object') {
          container[key] = isArrayAt(schema, path, raw) ? [] : {};
        }
        node = container[key] as Record<string, unknown>;
      }
    }
    applied.push({ variable, path });
  }
  return applied;
}

function parseScalar(value: string): unknown {
  try {
    const parsed: unknown = parseYaml(value);
    return parsed === null && value.trim() !== 'null' ? value : parsed;
  } catch {
    return value;
  }
}
