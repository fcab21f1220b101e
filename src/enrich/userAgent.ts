import { LRUCache } from 'lru-cache';
import UAParser from 'ua-parser-js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';
import type { EnrichStep } from './step.js';

/** What `meta.ua` holds; a field the parser could not tell is left out. */
export interface UaInfo {
  browser?: string;
  browserVersion?: string;
  os?: string;
  osVersion?: string;
  deviceType?: string;
  deviceVendor?: string;
  deviceModel?: string;
}

/**
 * ua-parser-js reads only the first 500 characters of a user agent, so that prefix is the
 * cache key: two agents that differ later parse the same, and a cache entry's key is bounded.
 */
const UA_PARSED_CHARS = 500;
/** Cached for agents the parser can tell nothing about (lru-cache does not store undefined). */
const NOTHING: UaInfo = Object.freeze({});

/** Parses one user agent (uncached). Never throws; an agent it cannot read gives `{}`. */
export function parseUserAgent(parser: UAParser, ua: string): UaInfo {
  const { browser, os, device } = parser.setUA(ua).getResult();
  const info: UaInfo = {};
  if (browser.name) info.browser = browser.name;
  if (browser.version) info.browserVersion = browser.version;
  if (os.name) info.os = os.name;
  if (os.version) info.osVersion = os.version;
  if (device.type) info.deviceType = device.type;
  if (device.vendor) info.deviceVendor = device.vendor;
  if (device.model) info.deviceModel = device.model;
  return Object.keys(info).length === 0 ? NOTHING : Object.freeze(info);
}

/**
 * `meta.ua` from the `ua` string, through an LRU cache of parses: real traffic repeats a few
 * thousand agents, and a parse costs tens of microseconds against well under one for a hit.
 * The cached object is frozen and shared by every event with that agent.
 */
export function userAgentStep(options: { cacheSize: number; metrics?: Metrics }): EnrichStep {
  const parser = new UAParser();
  const cache = new LRUCache<string, UaInfo>({ max: options.cacheSize });
  let hits = 0;
  let misses = 0;
  const hit = options.metrics?.enrichUaCacheLookups.labels({ result: 'hit' });
  const miss = options.metrics?.enrichUaCacheLookups.labels({ result: 'miss' });
  return {
    name: 'ua',
    apply(event: TrackedEvent): void {
      const ua: unknown = event.ua;
      if (typeof ua !== 'string' || ua.length === 0) return;
      const key = ua.length > UA_PARSED_CHARS ? ua.slice(0, UA_PARSED_CHARS) : ua;
      let info = cache.get(key);
      if (info === undefined) {
        misses++;
        info = parseUserAgent(parser, key);
        cache.set(key, info);
      } else {
        hits++;
      }
      if (info !== NOTHING) event.meta.ua = info;
    },
    flush(): void {
      if (hits > 0) hit?.inc(hits);
      if (misses > 0) miss?.inc(misses);
      hits = 0;
      misses = 0;
    },
  };
}
