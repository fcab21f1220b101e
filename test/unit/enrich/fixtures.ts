import { configSchema, type EnrichConfig } from '../../../src/config/schema.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';

/** Real user agents, as browsers and crawlers send them. */
export const UA = {
  chrome:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  firefox: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
} as const;

/** An event as the HTTP collector builds it (keys in the json codec's order). */
export function httpEvent(
  fields: Partial<Pick<TrackedEvent, 'clientTs' | 'ip' | 'ua'>> = {},
  ts = 1_700_000_000_000,
): TrackedEvent {
  const event = { id: 'e1', type: 'pageview', ts, props: {} } as TrackedEvent;
  if (fields.clientTs !== undefined) event.clientTs = fields.clientTs;
  if (fields.ip !== undefined) event.ip = fields.ip;
  if (fields.ua !== undefined) event.ua = fields.ua;
  event.meta = { source: 'http' };
  return event;
}

/** The `enrich` section with its defaults, overridden by `input` (parsed by the real schema). */
export function enrichConfig(input: Record<string, unknown> = {}): EnrichConfig {
  return configSchema.parse({ enrich: input }).enrich;
}
