import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerConfig } from '../../../config/schema.js';
import { cookieSuffix, readIdCookie, setCookieLine } from '../../../enrich/identity/cookies.js';
import { SAME_SITE, secureRule, type IdentityConfig, type IdentityIssuer } from '../../../enrich/identity/identity.js';
import { hasPrivacySignal } from '../../../enrich/identity/privacySignals.js';
import type { Metrics } from '../../../ops/metrics.js';
import type { RequestFacts } from '../../../event/fromSubmitted.js';

/**
 * The network user id, as Snowplow's collector keeps it, under `enrich.identity` (the ids
 * become `partyId`; ./mapping.ts lets an event's own `tnuid` or `nuid` win over them):
 *
 * - `cookie` mode: the id lives in the `sp` cookie, Snowplow's own name, so a site moving from
 *   a Snowplow collector on the same host keeps its visitors' ids. A `nuid` in the query string
 *   wins over the cookie (and the cookie is set to it), as the collector does; without either a
 *   new random UUID is made. The cookie is renewed on every answer with the attributes of
 *   Beacon's identity cookies (`partyMaxAge`, `domain`, `sameSite`, `secure`, HttpOnly), and
 *   Beacon's own `beacon_pid`/`beacon_sid` are not set on Snowplow answers: the tracker keeps its
 *   own session (`sid`), which becomes `sessionId`.
 * - `cookieless` mode: Beacon's daily hash of address and user agent (../../../enrich/identity/),
 *   no cookie.
 * - `off`: no id from the collector.
 * - A request with `SP-Anonymous` (the tracker's server-side anonymisation) gets no id and no
 *   cookie; Snowplow's collector writes an all-zero id there, which would merge every anonymous
 *   visitor into one party. With `honorPrivacySignals`, DNT or GPC does the same and deletes
 *   an `sp` cookie the request carries.
 * - A new cookie is only issued when the browser will keep it: no Origin (pixels, servers), an
 *   origin `server.cors` allows (the Snowplow answers always carry credentials for those, see
 *   ../cors.ts), or the collector's own origin. Anything else would mint a party per request.
 */
export const NETWORK_USER_COOKIE = 'sp';

export interface NetworkUserIds {
  /** Writes the collector-side network user id into `facts.partyId`, and the `sp` cookie onto `res`. */
  assign(
    req: IncomingMessage,
    res: ServerResponse,
    facts: RequestFacts,
    queryNuid: string | undefined,
    anonymous: boolean,
  ): void;
}

export interface NetworkUserIdDeps {
  identity: IdentityConfig;
  /** Beacon's identity issuer (present unless `enrich.identity.mode` is off); cookieless ids come from it. */
  issuer: IdentityIssuer | undefined;
  server: Pick<ServerConfig, 'trustProxy'>;
  /** Whether `server.cors` allows this origin (the Snowplow answers then carry credentials). */
  allowsOrigin: (origin: string) => boolean;
  metrics?: Metrics;
}

export function createNetworkUserIds(deps: NetworkUserIdDeps): NetworkUserIds {
  const { identity, issuer } = deps;
  if (identity.mode === 'off' || issuer === undefined) return { assign() {} };
  if (identity.mode === 'cookieless') {
    return {
      assign(req, res, facts, _query, anonymous) {
        if (!anonymous) issuer.identify(req, res, facts);
      },
    };
  }
  const suffix = cookieSuffix({ domain: identity.domain, sameSite: SAME_SITE[identity.sameSite] });
  const maxAge = Math.floor(identity.partyMaxAge / 1000);
  const secureFor = secureRule(identity.secure, deps.server.trustProxy);
  const counter = (result: string) => {
    const child = deps.metrics?.identityRequests.labels({ result });
    return () => child?.inc();
  };
  const count = {
    returning: counter('returning'),
    fresh: counter('new'),
    withheld: counter('withheld'),
    uncredentialed: counter('uncredentialed'),
  };

  function keepsCookies(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || deps.allowsOrigin(origin)) return true;
    const slashes = origin.indexOf('//');
    const host =
      deps.server.trustProxy && typeof req.headers['x-forwarded-host'] === 'string'
        ? req.headers['x-forwarded-host']
        : req.headers.host;
    return slashes !== -1 && host !== undefined && origin.slice(slashes + 2).toLowerCase() === host.toLowerCase();
  }

  return {
    assign(req, res, facts, queryNuid, anonymous) {
      if (anonymous) return;
      const cookie = req.headers.cookie;
      if (identity.honorPrivacySignals && hasPrivacySignal(req)) {
        if (cookie !== undefined && cookie.includes(NETWORK_USER_COOKIE + '=')) {
          res.appendHeader('Set-Cookie', setCookieLine(NETWORK_USER_COOKIE, '', 0, suffix, secureFor(req)));
        }
        return count.withheld();
      }
      // A query nuid is taken as a cookie value only in the alphabet the cookie reader accepts back.
      let id =
        queryNuid !== undefined ? readIdCookie(`${NETWORK_USER_COOKIE}=${queryNuid}`, NETWORK_USER_COOKIE) : undefined;
      id ??= readIdCookie(cookie, NETWORK_USER_COOKIE);
      if (id !== undefined) count.returning();
      else if (keepsCookies(req)) {
        id = randomUUID();
        count.fresh();
      } else return count.uncredentialed();
      facts.partyId = id;
      res.appendHeader('Set-Cookie', setCookieLine(NETWORK_USER_COOKIE, id, maxAge, suffix, secureFor(req)));
    },
  };
}
