/**
 * Plausible's events endpoint (docs/protocols.md#plausible): Plausible's script,
 * plausible-tracker and Events API senders post to Beacon by changing their host. Config in
 * plausibleConfig.ts, the mapping in mapping.ts, the HTTP side in plausibleApi.ts.
 */
export { createPlausibleApi } from './plausibleApi.js';
export { plausibleEvent } from './mapping.js';
export { plausibleSchema, type PlausibleConfig } from './plausibleConfig.js';
