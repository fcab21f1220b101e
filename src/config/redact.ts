import { findSinkDefinition } from '../sinks/registry.js';
import { findSourceDefinition } from '../sources/registry.js';
import { findChannelDefinition } from '../alerts/channels/registry.js';

const SECRET_KEY = /pass(word)?|secret|token|authorization|api[-_]?key|credentials?$/i;
export const REDACTED = '***';

/**
 * A copy of the config safe to print or serve: values under keys that look secret, and the
 * keys each sink definition declares secret, are replaced by `***`. Credentials inside URLs
 * (`amqp://user:pass@host`) are masked too.
 */
export function redactConfig<T>(config: T): T {
  const copy = structuredClone(config) as unknown;
  walk(copy);
  const parts = copy as { sinks?: unknown[]; sources?: unknown[]; alerts?: { channels?: unknown[] } };
  for (const [list, find] of [
    [parts.sinks, findSinkDefinition],
    [parts.sources, findSourceDefinition],
    [parts.alerts?.channels, findChannelDefinition],
  ] as const) {
    for (const part of Array.isArray(list) ? list : []) {
      const p = part as Record<string, unknown>;
      const def = typeof p.type === 'string' ? find(p.type) : undefined;
      for (const dotted of def?.secretKeys ?? []) redactPath(p, dotted.split('.'));
    }
  }
  // Segment write keys: their key name says nothing secret, so the pattern above misses them.
  const segment = (copy as { segment?: unknown }).segment;
  if (segment && typeof segment === 'object') redactPath(segment as Record<string, unknown>, ['writeKeys']);
  return copy as T;
}

function walk(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    const container = node as Record<string, unknown>;
    if (SECRET_KEY.test(key) && value !== undefined && value !== null && typeof value !== 'object' && typeof value !== 'boolean') {
      container[key] = REDACTED;
    } else if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value)) {
      container[key] = value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]*@/i, `$1:${REDACTED}@`);
    } else {
      walk(value);
    }
  }
}

function redactPath(node: Record<string, unknown>, path: string[]): void {
  const [head, ...rest] = path;
  if (head === undefined || !(head in node)) return;
  if (rest.length === 0) {
    const value = node[head];
    if (value && typeof value === 'object') {
      for (const k of Object.keys(value)) (value as Record<string, unknown>)[k] = REDACTED;
    } else if (value !== undefined) {
      node[head] = REDACTED;
    }
    return;
  }
  const next = node[head];
  if (next && typeof next === 'object') redactPath(next as Record<string, unknown>, rest);
}
