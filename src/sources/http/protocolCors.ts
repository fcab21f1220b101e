import type { ServerConfig } from '../../config/schema.js';
import { createCorsPolicy, type CorsPolicy } from './cors.js';

/**
 * CORS for the endpoints of compatible protocols (PostHog, Plausible, Umami, GA4, Snowplow).
 * Their browser clients send credentials (posthog-js and Snowplow's tracker use
 * `credentials: 'include'`), and a browser drops a credentialed answer that says
 * `Access-Control-Allow-Origin: *`. So for every origin `server.cors` allows (`*` allows all),
 * the answer names that exact origin and adds `Access-Control-Allow-Credentials: true`, as the
 * original services do. This is safe here: these endpoints only take events in and answer
 * nothing private (`{"status": 1}`, empty flags), and they read no cookie (Snowplow's `sp`
 * cookie is only set, never trusted for anything but the id it carries). An origin
 * `server.cors` does not list gets no CORS headers, so the browser hides the answer.
 */

/** The collector's policy with the credentialed answers (cors.ts) as the plain ones. */
export function createProtocolCors(cors: ServerConfig['cors']): CorsPolicy {
  const policy = createCorsPolicy(cors);
  return { ...policy, headersFor: policy.credentialedHeadersFor, preflight: policy.credentialedPreflight };
}
