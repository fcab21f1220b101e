import { defineInternalEvent, type InternalEventInfo } from '../ops/internalEvent.js';

/** The admin API's internal events, defined once (docs/operations.md lists them). */

/** The context is the surface's description: who can reach the admin endpoints, and how. */
const adminSurface = defineInternalEvent<{ tokens: boolean; allowedHosts: readonly string[] }, undefined, string>(
  'admin_surface',
  {
    about: 'at start: who can reach the admin API (tokens, networks, loopback) and which Host names it answers',
    level: 'info',
    fields: { tokens: true, allowedHosts: true },
    message: (_f, description) => description,
  },
);

export const API_EVENTS = { adminSurface };

export const API_EVENT_CATALOGUE: readonly InternalEventInfo[] = Object.values(API_EVENTS).map((e) => e.info);
