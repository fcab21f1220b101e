import type { BeaconConfig } from '../../config/schema.js';
import type { PathHandler } from './endpoint.js';
import { createGa4Api } from './ga4/index.js';
import { createPlausibleApi } from './plausible/index.js';
import { createPostHogApi } from './posthog/index.js';
import type { ProtocolDeps } from './protocolIntake.js';
import { createUmamiApi } from './umami/index.js';

/**
 * The compatible protocols: client libraries people already ship send to Beacon by changing
 * their host (docs/protocols.md). Adding one is a folder under src/sources/http/, its config
 * block in src/config/schema.ts, and one line in COMPATIBLE_PROTOCOLS: the collector routes
 * to it, `beacon status` lists it when on, and /metrics counts it under its name.
 */

/** The config the protocols read their blocks from (`segment`, `posthog`, ...): the whole config, so a new block needs no change here. */
export type ProtocolConfigs = BeaconConfig;

/** One protocol's HTTP side: which paths it owns, and how it answers them. */
export interface ProtocolEndpoint {
  /** The largest body it reads (its original's limit, or `server.limits.bodyBytes` when larger). */
  readonly bodyBytes: number;
  owns(path: string): boolean;
  handle: PathHandler;
}

export interface CompatibleProtocol {
  /** The config key, the metrics `source` label and `meta.source`. */
  name: string;
  enabled(config: ProtocolConfigs): boolean;
  /**
   * Builds the endpoint; absent for Segment (routed under /v1/ by the collector) and Snowplow
   * (routed by the collector too, since it needs the browser identity issuer for its `sp` cookie).
   */
  create?(config: ProtocolConfigs, deps: ProtocolDeps): ProtocolEndpoint;
}

export const COMPATIBLE_PROTOCOLS: readonly CompatibleProtocol[] = [
  { name: 'segment', enabled: (c) => c.segment.enabled },
  { name: 'posthog', enabled: (c) => c.posthog.enabled, create: (c, deps) => createPostHogApi(c.posthog, deps) },
  {
    name: 'plausible',
    enabled: (c) => c.plausible.enabled,
    create: (c, deps) => createPlausibleApi(c.plausible, deps),
  },
  { name: 'umami', enabled: (c) => c.umami.enabled, create: (c, deps) => createUmamiApi(c.umami, deps) },
  { name: 'ga4', enabled: (c) => c.ga4.enabled, create: (c, deps) => createGa4Api(c.ga4, deps) },
  { name: 'snowplow', enabled: (c) => c.snowplow.enabled },
];

/** The names of the protocols that are on, in the order above (for `beacon status`). */
export function enabledProtocols(config: ProtocolConfigs): string[] {
  return COMPATIBLE_PROTOCOLS.filter((p) => p.enabled(config)).map((p) => p.name);
}

/** The endpoints of the protocols that are on; `find` picks the one owning a path. */
export function createProtocolEndpoints(
  config: ProtocolConfigs,
  deps: ProtocolDeps,
): { find(path: string): ProtocolEndpoint | undefined } {
  const endpoints: ProtocolEndpoint[] = [];
  for (const protocol of COMPATIBLE_PROTOCOLS) {
    if (protocol.create !== undefined && protocol.enabled(config)) endpoints.push(protocol.create(config, deps));
  }
  return {
    find(path) {
      for (const endpoint of endpoints) if (endpoint.owns(path)) return endpoint;
      return undefined;
    },
  };
}
