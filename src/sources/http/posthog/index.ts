/**
 * The PostHog capture API (docs/protocols.md#posthog): posthog-js, posthog-node and the other
 * PostHog SDKs send to Beacon by changing their host. Config in posthogConfig.ts, body
 * encodings in decode.ts (lz-string in lz64.ts), the event mapping in mapping.ts, the flags
 * and remote config answers in remoteConfig.ts, the HTTP side in posthogApi.ts.
 */
export { createPostHogApi } from './posthogApi.js';
export { posthogEvent } from './mapping.js';
export { decodeCapture } from './decode.js';
export { posthogSchema, type PostHogConfig } from './posthogConfig.js';
