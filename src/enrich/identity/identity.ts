import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { EnrichConfig, ServerConfig } from '../../config/schema.js';
import type { Metrics } from '../../ops/metrics.js';
import type { RequestFacts } from '../../event/fromSubmitted.js';
import { cookieLineTemplate, cookieSuffix, readIdCookie, setCookieLine } from './cookies.js';
import { DailySalt } from './dailySalt.js';
import { hasPrivacySignal } from './privacySignals.js';

export type IdentityConfig = EnrichConfig['identity'];

/**
 * First-party ids for the HTTP collector's events (`enrich.identity`). It lives beside the
 * collector rather than in the chain because cookies come with the request and go back on the
 * answer. Promises it keeps:
 * - An id the client sent with an event (`partyId`, `sessionId` in a /batch element) wins:
 *   the ids here only fill in what the event lacks (see `batchEvent`).
 * - `cookie`: `partyId` and `sessionId` are random UUIDs kept in HttpOnly cookies, renewed on
 *   every answer, so the party cookie lives `partyMaxAge` after the last visit and the session
 *   cookie expires after `sessionIdle` without a request: the browser enforces the session
 *   timeout and the collector keeps no state. A new party always starts a new session.
 * - `cookieless`: `partyId` = SHA-256(salt of the UTC day, full client IP, user agent),
 *   computed before the IP is anonymised; no cookie is set (and identity cookies left from the
 *   cookie mode are deleted), no `sessionId`. The same visitor gets a new id each day, and the
 *   ids of past days cannot be recomputed once their salt is deleted (./dailySalt.ts).
 * - With `honorPrivacySignals`, a request with `DNT: 1` or `Sec-GPC: 1` gets no ids, and any
 *   identity cookies it carries are deleted; its events are still collected.
 * - New cookies are only issued when the browser will send them back: to requests without an
 *   `Origin` (pixels, navigations), from the collector's own origin, or from an origin that
 *   `server.cors` allows with credentials. Anything else would mint a new party per request.
 * - It never throws: a salt that cannot be read costs the request its `partyId` (logged).
 */
export interface IdentityIssuer {
  readonly mode: 'cookie' | 'cookieless';
  /** Writes the request's ids into `facts` and, in cookie mode, the renewed cookies onto `res`. */
  identify(req: IncomingMessage, res: ServerResponse, facts: RequestFacts): void;
  /**
   * Consent withdrawn (`POST /batch?forget=1` from the tracker): deletes the identity cookies and
   * assigns no ids. The deleting lines carry the same Secure decision as the lines that set the
   * cookies: browsers reject a `SameSite=None` cookie without `Secure`, deletions included.
   */
  forget(req: IncomingMessage, res: ServerResponse): void;
}

export interface IdentityDeps {
  server: Pick<ServerConfig, 'cors' | 'trustProxy'>;
  /** Where cookieless mode keeps its daily salt (`dataDir/identity`). */
  saltDir: string;
  metrics?: Metrics;
  logger?: Logger;
  now?: () => number;
}

type Result = 'returning' | 'new' | 'cookieless' | 'withheld' | 'uncredentialed' | 'forgotten';

/** The issuer for `config`, or undefined when `mode` is `off`. Cookieless mode reads (or makes) today's salt here, so a bad dataDir stops Beacon at start. */
export function createIdentityIssuer(config: IdentityConfig, deps: IdentityDeps): IdentityIssuer | undefined {
  if (config.mode === 'off') return undefined;
  const counters = countersFor(deps.metrics);
  const honor = config.honorPrivacySignals;
  const partyName = config.partyCookie;
  const sessionName = config.sessionCookie;
  const suffix = cookieSuffix({ domain: config.domain, sameSite: SAME_SITE[config.sameSite] });
  const partyMaxAge = Math.floor(config.partyMaxAge / 1000);
  const sessionMaxAge = Math.floor(config.sessionIdle / 1000);
  const secureFor = secureRule(config.secure, deps.server.trustProxy);
  const credentialed = credentialRule(deps.server);

  function expire(res: ServerResponse, secure: boolean): void {
    res.setHeader('Set-Cookie', [
      setCookieLine(partyName, '', 0, suffix, secure),
      setCookieLine(sessionName, '', 0, suffix, secure),
    ]);
  }

  function carriesIdentityCookie(req: IncomingMessage): boolean {
    const header = req.headers.cookie;
    return header !== undefined && (header.includes(partyName + '=') || header.includes(sessionName + '='));
  }

  if (config.mode === 'cookieless') {
    const now = deps.now ?? Date.now;
    const salt = new DailySalt(deps.saltDir, now);
    salt.current();
    let failedDay = '';
    // After a failure the disk is tried again a minute later, not on every request.
    let retryAt = 0;
    return {
      mode: 'cookieless',
      identify(req, res, facts) {
        if (carriesIdentityCookie(req)) expire(res, secureFor(req));
        if (honor && hasPrivacySignal(req)) return counters.withheld();
        if (facts.ip === undefined || (retryAt !== 0 && now() < retryAt)) return;
        let key: string;
        try {
          key = salt.currentHex();
          retryAt = 0;
        } catch (err) {
          retryAt = now() + 60_000;
          const day = new Date(now()).toISOString().slice(0, 10);
          if (failedDay !== day) {
            failedDay = day;
            deps.logger?.error(
              { err: (err as Error).message, code: 'BEACON_E_IDENTITY_SALT' },
              'cookieless ids are off until the salt can be written; events go on without partyId',
            );
          }
          return;
        }
        // One update of one string: a third of the cost of an HMAC object per request. The salt
        // is secret and fixed-length in front, so the id cannot be recomputed without it.
        facts.partyId = createHash('sha256')
          .update(`${key}\n${facts.ip}\n${facts.ua ?? ''}`)
          .digest('hex')
          .slice(0, 32);
        counters.cookieless();
      },
      forget(req, res) {
        expire(res, secureFor(req));
        counters.forgotten();
      },
    };
  }

  // Everything of the two lines but the value is fixed: built once, not on every answer.
  const partyLine = cookieLineTemplate(partyName, partyMaxAge, suffix);
  const sessionLine = cookieLineTemplate(sessionName, sessionMaxAge, suffix);
  return {
    mode: 'cookie',
    identify(req, res, facts) {
      const header = req.headers.cookie;
      let party = readIdCookie(header, partyName);
      let session = readIdCookie(header, sessionName);
      const secure = secureFor(req);
      if (honor && hasPrivacySignal(req)) {
        if (carriesIdentityCookie(req)) expire(res, secure);
        return counters.withheld();
      }
      if (party === undefined) {
        if (!credentialed(req)) return counters.uncredentialed();
        party = randomUUID();
        session = randomUUID();
        counters.fresh();
      } else {
        counters.returning();
      }
      session ??= randomUUID();
      facts.partyId = party;
      facts.sessionId = session;
      res.setHeader('Set-Cookie', [partyLine.of(party, secure), sessionLine.of(session, secure)]);
    },
    forget(req, res) {
      // Same Secure decision as when setting: a SameSite=None line without Secure is rejected
      // by browsers, so the deletion would be dropped and the cookies kept.
      expire(res, secureFor(req));
      counters.forgotten();
    },
  };
}

export const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;

export function secureRule(secure: IdentityConfig['secure'], trustProxy: boolean): (req: IncomingMessage) => boolean {
  if (secure !== 'auto') return () => secure;
  return (req) => {
    if ((req.socket as TLSSocket).encrypted === true) return true;
    if (!trustProxy) return false;
    const proto = req.headers['x-forwarded-proto'];
    return typeof proto === 'string' && proto.split(',')[0]!.trim().toLowerCase() === 'https';
  };
}

/**
 * Whether the browser will store the cookies of this answer and send them back: true without
 * an Origin (pixels, navigations), from the collector's own origin, and from an origin that
 * server.cors lists with `credentials: true` (the CORS answer then carries
 * Access-Control-Allow-Credentials, see ../../sources/http/cors.ts).
 */
function credentialRule(server: IdentityDeps['server']): (req: IncomingMessage) => boolean {
  const cors = server.cors;
  const allowed = cors.credentials && !cors.origins.includes('*') ? new Set(cors.origins) : new Set<string>();
  return (req) => {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (allowed.has(origin)) return true;
    const slashes = origin.indexOf('//');
    const host =
      server.trustProxy && typeof req.headers['x-forwarded-host'] === 'string'
        ? req.headers['x-forwarded-host']
        : req.headers.host;
    return slashes !== -1 && host !== undefined && origin.slice(slashes + 2).toLowerCase() === host.toLowerCase();
  };
}

function countersFor(
  metrics: Metrics | undefined,
): Record<'returning' | 'fresh' | 'cookieless' | 'withheld' | 'uncredentialed' | 'forgotten', () => void> {
  const counter = (result: Result) => {
    const child = metrics?.identityRequests.labels({ result });
    return () => child?.inc();
  };
  return {
    returning: counter('returning'),
    fresh: counter('new'),
    cookieless: counter('cookieless'),
    withheld: counter('withheld'),
    uncredentialed: counter('uncredentialed'),
    forgotten: counter('forgotten'),
  };
}
