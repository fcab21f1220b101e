import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BeaconConfig } from '../../config/schema.js';
import { verifyChecksum } from '../../enrich/corruption.js';
import { createIdentityIssuer, type IdentityIssuer } from '../../enrich/identity/identity.js';
import type { Metrics } from '../../ops/metrics.js';
import { loadTrackerScript, type TrackerScript } from './trackerScript.js';

/** What the collector needs for browsers beyond the plain endpoints; each part is optional so tests can leave it out. */
export interface BrowserIntake {
  /** First-party ids (`enrich.identity`); absent with `mode: off`. */
  identity?: IdentityIssuer;
  /** The corruption check (`enrich.corruption.enabled`): why a POST body fails its `cs`, or undefined. */
  verifyChecksum?: (query: string, body: Uint8Array) => string | undefined;
  /** `GET /beacon.js`. */
  trackerScript?: TrackerScript;
}

/** Builds the three from the whole config, once per collector process, at start. */
export function createBrowserIntake(config: BeaconConfig, deps: { metrics: Metrics; logger: Logger }): BrowserIntake {
  const cors = config.server.cors;
  const identity = createIdentityIssuer(config.enrich.identity, {
    server: config.server,
    saltDir: join(config.dataDir, 'identity'),
    metrics: deps.metrics,
    logger: deps.logger.child({ component: 'identity' }),
  });
  const trackerScript = loadTrackerScript({ credentials: cors.credentials && !cors.origins.includes('*') });
  if (!trackerScript.built)
    deps.logger.warn(
      { code: 'BEACON_E_TRACKER_NOT_BUILT' },
      'the browser tracker is not built, so GET /beacon.js answers 404; run `npm run build`',
    );
  return {
    ...(identity ? { identity } : {}),
    ...(config.enrich.corruption.enabled ? { verifyChecksum } : {}),
    trackerScript,
  };
}
