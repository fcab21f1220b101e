import { createIsbotFromList, list as isbotPatterns } from 'isbot';
import { LRUCache } from 'lru-cache';
import { BeaconError } from '../errors/beaconError.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { EnrichStep } from './step.js';

/**
 * Agents longer than this are matched without the cache, so the cache's memory stays bounded
 * (cacheSize x this many characters) whatever clients send.
 */
const CACHED_UA_CHARS = 512;

/**
 * A matcher for isbot's list plus `extra` (regular expressions, case-insensitive), compiled
 * into one expression at start. Throws BEACON_E_CONFIG_FIELD naming a pattern that does not compile.
 */
export function botMatcher(extra: readonly string[]): (ua: string) => boolean {
  extra.forEach((pattern, i) => {
    try {
      new RegExp(pattern, 'i');
    } catch (err) {
      throw new BeaconError(
        'BEACON_E_CONFIG_FIELD',
        `enrich.bots.patterns[${i}] is not a valid regular expression: ${(err as Error).message}`,
        {
          field: `enrich.bots.patterns.${i}`,
          value: pattern,
        },
      );
    }
  });
  // Each pattern is wrapped so an alternation inside one cannot swallow its neighbours.
  const isBot = createIsbotFromList([...isbotPatterns, ...extra.map((p) => `(?:${p})`)]);
  return (ua) => isBot(ua);
}

/**
 * `meta.bot = true` when the user agent is a crawler, monitor or tool (isbot's list plus
 * `enrich.bots.patterns`). Events without a user agent are not flagged. The chain drops flagged
 * events when `enrich.bots.drop` is on.
 */
export function botStep(options: { patterns: readonly string[]; cacheSize: number }): EnrichStep {
  const isBot = botMatcher(options.patterns);
  const cache = new LRUCache<string, boolean>({ max: options.cacheSize });
  return {
    name: 'bots',
    apply(event: TrackedEvent): void {
      const ua: unknown = event.ua;
      if (typeof ua !== 'string' || ua.length === 0) return;
      let bot: boolean | undefined;
      if (ua.length > CACHED_UA_CHARS) {
        bot = isBot(ua);
      } else {
        bot = cache.get(ua);
        if (bot === undefined) {
          bot = isBot(ua);
          cache.set(ua, bot);
        }
      }
      if (bot) event.meta.bot = true;
    },
  };
}
