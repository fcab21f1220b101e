import { randomUUID } from 'node:crypto';

/**
 * What posthog-js and posthog-node ask besides capture, answered so they run with feature
 * flags and remote config empty (Beacon collects events; it evaluates no flags):
 * - `/flags` (and the older `/decide`): no flags, no payloads, no errors, in both the v2
 *   shape (`flags`) and the v1 one (`featureFlags`, `featureFlagPayloads`);
 * - `/array/<key>/config`: the project's remote config as JSON; `/array/<key>/config.js` the
 *   same as the script posthog-js' loader runs. Nothing is switched on: no session recording,
 *   heatmaps, surveys, site apps or dead-click capture. `supportedCompression` advertises gzip,
 *   which posthog-js then uses for its capture bodies.
 */

export const KEY_IN_PATH = /^[A-Za-z0-9_-]{1,200}$/;

export function remoteConfig(key: string): Record<string, unknown> {
  return {
    token: key,
    supportedCompression: ['gzip', 'gzip-js'],
    hasFeatureFlags: false,
    captureDeadClicks: false,
    capturePerformance: false,
    autocapture_opt_out: false,
    autocaptureExceptions: false,
    elementsChainAsString: true,
    sessionRecording: false,
    heatmaps: false,
    surveys: false,
    defaultIdentifiedOnly: true,
    siteApps: [],
  };
}

export function remoteConfigScript(key: string): string {
  const config = JSON.stringify({ config: remoteConfig(key), siteApps: [] });
  // The key matched KEY_IN_PATH, and JSON.stringify quotes it: nothing of the path becomes code.
  return `(function(){var w=window;w._POSTHOG_REMOTE_CONFIG=w._POSTHOG_REMOTE_CONFIG||{};w._POSTHOG_REMOTE_CONFIG[${JSON.stringify(key)}]=${config};})();\n`;
}

export function emptyFlags(): Record<string, unknown> {
  return {
    flags: {},
    featureFlags: {},
    featureFlagPayloads: {},
    errorsWhileComputingFlags: false,
    quotaLimited: [],
    requestId: randomUUID(),
    config: { enable_collect_everything: false },
    toolbarParams: {},
    isAuthenticated: false,
    supportedCompression: ['gzip', 'gzip-js'],
    sessionRecording: false,
    siteApps: [],
  };
}
