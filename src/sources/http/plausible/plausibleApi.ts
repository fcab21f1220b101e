import { isRejection } from '../../../event/rejection.js';
import { requestFacts } from '../requestFacts.js';
import { createProtocolIntake, type ProtocolDeps } from '../protocolIntake.js';
import type { ProtocolEndpoint } from '../protocols.js';
import { createSingleEventEndpoint } from '../singleEventEndpoint.js';
import { eventDomain, plausibleEvent } from './mapping.js';
import type { PlausibleConfig } from './plausibleConfig.js';

/**
 * Plausible's `POST /api/event` (docs/protocols.md#plausible): one event per request, JSON in
 * any media type (Plausible's script and plausible-tracker send `text/plain`), answered
 * `202 ok` once durable, as Plausible answers. `plausible.domains`, when not empty, lists the
 * sites accepted: an event whose domain (or none of its comma-separated domains) is listed is
 * refused with 403 BEACON_E_PLAUSIBLE_DOMAIN.
 */

const PATH = '/api/event';
/** Plausible takes up to 30 props of 300-byte keys and 2,000-byte values. */
const PLAUSIBLE_LIMITS = { propsBytes: 128 * 1024 };

export function createPlausibleApi(config: PlausibleConfig, deps: ProtocolDeps): ProtocolEndpoint {
  const intake = createProtocolIntake('plausible', deps, PLAUSIBLE_LIMITS);
  const domains = new Set(config.domains.map((d) => d.toLowerCase()));
  const trustProxy = deps.server.trustProxy;

  return createSingleEventEndpoint(PATH, intake, async ({ value, bound }, req, res, started, now) => {
    const domain =
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? eventDomain(value as Record<string, unknown>)
        : undefined;
    if (domains.size > 0) {
      const named = (domain ?? '').split(',').map((d) => d.trim().toLowerCase());
      if (!named.some((d) => domains.has(d))) {
        return intake.refuse(
          req,
          res,
          'BEACON_E_PLAUSIBLE_DOMAIN',
          `the domain ${JSON.stringify((domain ?? '').slice(0, 100))} is not listed in plausible.domains`,
        );
      }
    }
    const facts = { ...requestFacts(req, trustProxy, now), domain: domain ?? '' };
    const result = intake.checked(plausibleEvent(value, facts, intake.rules, bound));
    if (isRejection(result)) return intake.refuse(req, res, result.code, result.message);
    intake.received(1);
    if (!(await intake.commit([result], req, res, started))) return;
    const corsHeaders = intake.corsFor(req);
    if (corsHeaders) for (const [name, v] of Object.entries(corsHeaders)) res.setHeader(name, v);
    res.writeHead(202, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 2 });
    res.end('ok');
  });
}
