import { isRejection } from '../../../event/rejection.js';
import { requestFacts } from '../requestFacts.js';
import { createProtocolIntake, type ProtocolDeps } from '../protocolIntake.js';
import type { ProtocolEndpoint } from '../protocols.js';
import { sendJson } from '../responses.js';
import { createSingleEventEndpoint } from '../singleEventEndpoint.js';
import { umamiEvent } from './mapping.js';
import type { UmamiConfig } from './umamiConfig.js';

/**
 * Umami's `POST /api/send` (docs/protocols.md#umami): one call per request, JSON in any media
 * type, answered 200 with a JSON object once durable (Umami's script reads `cache` from it
 * and finds none, which it takes as "no cached session"). `umami.websites`, when not empty,
 * lists the website ids accepted; another is refused with 403 BEACON_E_UMAMI_WEBSITE.
 */

const PATH = '/api/send';
/** Umami stores event data nested (it flattens it): take any depth Beacon can bound. */
const UMAMI_LIMITS = { propsDepth: 64 };

export function createUmamiApi(config: UmamiConfig, deps: ProtocolDeps): ProtocolEndpoint {
  const intake = createProtocolIntake('umami', deps, UMAMI_LIMITS);
  const websites = new Set(config.websites.map((w) => w.toLowerCase()));
  const trustProxy = deps.server.trustProxy;

  return createSingleEventEndpoint(PATH, intake, async ({ value, bound }, req, res, started, now) => {
    const payload = (value as { payload?: { website?: unknown } } | null)?.payload;
    const website = typeof payload?.website === 'string' ? payload.website : undefined;
    if (websites.size > 0 && (website === undefined || !websites.has(website.toLowerCase()))) {
      return intake.refuse(
        req,
        res,
        'BEACON_E_UMAMI_WEBSITE',
        `the website ${JSON.stringify((website ?? '').slice(0, 100))} is not listed in umami.websites`,
      );
    }
    const facts = requestFacts(req, trustProxy, now);
    const result = intake.checked(umamiEvent(value, facts, intake.rules, bound));
    if (isRejection(result)) return intake.refuse(req, res, result.code, result.message);
    intake.received(1);
    if (await intake.commit([result], req, res, started)) sendJson(res, 200, '{}', intake.corsFor(req));
  });
}
