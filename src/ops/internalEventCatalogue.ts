import { ALERT_EVENT_CATALOGUE } from '../alerts/internalEvents.js';
import { API_EVENT_CATALOGUE } from '../api/internalEvents.js';
import { DISPATCH_EVENT_CATALOGUE } from '../dispatch/internalEvents.js';
import { TLS_EVENT_CATALOGUE } from '../net/internalEvents.js';
import { CONFIG_EVENT_CATALOGUE } from '../reload/internalEvents.js';
import { SOURCE_EVENT_CATALOGUE } from '../sources/internalEvents.js';
import { STORE_EVENT_CATALOGUE } from '../store/internalEvents.js';
import { eventTable, type InternalEventInfo } from './internalEvent.js';

/**
 * Every internal event Beacon emits, part by part: the table in docs/operations.md is this
 * list (test/unit/ops/internalEvents.test.ts checks it). A part with events adds one line.
 */
export const INTERNAL_EVENT_PARTS: readonly { part: string; events: readonly InternalEventInfo[] }[] = [
  { part: 'sources', events: SOURCE_EVENT_CATALOGUE },
  { part: 'TLS (collector and admin API)', events: TLS_EVENT_CATALOGUE },
  { part: 'dispatch', events: DISPATCH_EVENT_CATALOGUE },
  { part: 'store', events: STORE_EVENT_CATALOGUE },
  { part: 'alerts', events: ALERT_EVENT_CATALOGUE },
  { part: 'config reload', events: CONFIG_EVENT_CATALOGUE },
  { part: 'admin API', events: API_EVENT_CATALOGUE },
];

/** The Markdown docs/operations.md holds between its `internal-events` markers: one table per part. */
export function internalEventsDoc(): string {
  return INTERNAL_EVENT_PARTS.map(({ part, events }) => `**${part}**\n\n${eventTable(events)}`).join('\n\n');
}
