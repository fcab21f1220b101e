import { LRUCache } from 'lru-cache';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { EnrichStep } from './step.js';
import { ipVersion, truncateIpv4, truncateIpv6, withoutZone } from './ipAddress.js';

export type AnonymizeMode = 'truncate' | 'full' | 'none';

export interface AnonymizeOptions {
  mode: AnonymizeMode;
  ipv4Prefix: number;
  ipv6Prefix: number;
}

/** Remembered answers for addresses that are not IPs (lru-cache does not store undefined). */
const INVALID = '';
const CACHE_SIZE = 10_000;

/**
 * The anonymised form of `ip`, or undefined when nothing may be kept: `full` always, and
 * `truncate` for a value that is not an IP address (it could be anything a proxy passed on).
 */
export function anonymizeIp(ip: string, options: AnonymizeOptions): string | undefined {
  if (options.mode === 'none') return ip;
  if (options.mode === 'full') return undefined;
  const address = withoutZone(ip.trim());
  const version = ipVersion(address);
  if (version === 4) return truncateIpv4(address, options.ipv4Prefix);
  if (version === 6) return truncateIpv6(address, options.ipv6Prefix);
  return undefined;
}

/**
 * Rewrites `event.ip` so the raw client address never reaches the log: `truncate` (default)
 * keeps the /24 of IPv4 and the /48 of IPv6, `full` removes the address, `none` keeps it.
 * Runs after geo, which needs the whole address. A value that is not an IP address is removed
 * under `truncate` and flagged `meta.ipInvalid`. Removing sets the key to undefined rather than
 * deleting it, which JSON leaves out just the same and keeps the event's shape (and the log's
 * fast stringify path).
 */
export function ipAnonymizeStep(options: AnonymizeOptions): EnrichStep {
  const cache = new LRUCache<string, string>({ max: CACHE_SIZE });
  const mode = options.mode;
  return {
    name: 'ip',
    apply(event: TrackedEvent): void {
      if (mode === 'none') return;
      const ip: unknown = event.ip;
      if (ip === undefined) return;
      if (mode === 'full' || typeof ip !== 'string') {
        event.ip = undefined;
        if (mode !== 'full') event.meta.ipInvalid = true;
        return;
      }
      let anonymized = ip.length <= 64 ? cache.get(ip) : undefined;
      if (anonymized === undefined) {
        anonymized = anonymizeIp(ip, options) ?? INVALID;
        if (ip.length <= 64) cache.set(ip, anonymized);
      }
      if (anonymized === INVALID) {
        event.ip = undefined;
        event.meta.ipInvalid = true;
      } else {
        event.ip = anonymized;
      }
    },
  };
}
