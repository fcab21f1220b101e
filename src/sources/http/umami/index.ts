/**
 * Umami's collect endpoint (docs/protocols.md#umami): Umami's script and @umami/node post to
 * Beacon by changing their host. Config in umamiConfig.ts, the mapping in mapping.ts, the
 * HTTP side in umamiApi.ts.
 */
export { createUmamiApi } from './umamiApi.js';
export { umamiEvent } from './mapping.js';
export { umamiSchema, type UmamiConfig } from './umamiConfig.js';
