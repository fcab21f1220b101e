/**
 * The GA4 Measurement Protocol (docs/protocols.md#ga4): server-side senders post to Beacon by
 * changing Google's host. Config in ga4Config.ts, the mapping in mapping.ts, the validation
 * server's checks in validation.ts, the HTTP side in ga4Api.ts.
 */
export { createGa4Api } from './ga4Api.js';
export { ga4Event } from './mapping.js';
export { validateRequest, type ValidationMessage } from './validation.js';
export { ga4Schema, type Ga4Config } from './ga4Config.js';
