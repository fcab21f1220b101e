import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { BeaconError } from '../errors/beaconError.js';
import { adminClientAddress, type RouteGuard } from './adminAccess.js';
import type { ApiRoute } from './route.js';

/**
 * Who may reach the admin and read surface: every API route that needs a scope (status, sinks,
 * dead letters, config, replay, reload, the query API, the web page's data) and the `/live`
 * stream. The collector endpoints, `/healthz`, `/readyz` and `/metrics` are not part of it.
 * Three rules, checked before the token (docs/security.md):
 *
 * 1. **Host.** The `Host` header must be a name this server answers to: `localhost` and
 *    `*.localhost`, any IP address literal, the bind address (`server.host`) when it is a name,
 *    and the entries of `api.allowedHosts`. A DNS-rebinding page reaches Beacon under the
 *    attacker's own name, never under an IP literal, so this refuses it whatever the bind
 *    address; an operator who reaches Beacon by a LAN name lists that name.
 * 2. **Loopback only without tokens.** While `api.tokens` is empty, only clients on loopback
 *    (127.0.0.0/8, ::1) are answered, as RabbitMQ's `guest` user works only from loopback. The
 *    client is the TCP peer; behind a trusted proxy (`server.trustProxy`) it is the address the
 *    proxy added last to `X-Forwarded-For`, so a proxy on the same machine does not make every
 *    client local. `X-Forwarded-For` is never read otherwise. With tokens, the tokens (and
 *    `api.adminNetworks`, `api.adminRequireTls`) decide.
 * 3. **Origin.** A request that may change state (any method but GET and HEAD) and a `/live`
 *    upgrade, when they carry `Origin`, must come from the server's own origin (the Origin's
 *    host and port are the `Host` the request was sent to) or one listed in
 *    `server.cors.origins`. `*` there opens the collector to every page, never this surface. A
 *    cross-site `text/plain` POST needs no preflight, and a WebSocket has no same-origin rule:
 *    both would otherwise run with whatever access the visitor's browser has.
 */
export interface AdminSurfaceConfig {
  /** Whether `api.tokens` has any token. */
  tokensConfigured: boolean;
  /**
   * Whether the routes this surface guards are also held to `api.adminNetworks` (the API router
   * checks them first): the operator chose which networks reach them, so the loopback default
   * gives way. Unset for `/live`, which that list does not guard.
   */
  networksConfigured?: boolean;
  /** `api.allowedHosts`. */
  allowedHosts: readonly string[];
  /** `server.host`: a name there is allowed as Host. */
  bindHost: string;
  /** `server.cors.origins`: listed origins may send state-changing requests and open /live. */
  corsOrigins: readonly string[];
  /** `server.trustProxy`. */
  trustProxy: boolean;
}

/** What the rules read from a request: an AdminRequest, or a /live upgrade's headers and peer. */
export interface SurfaceRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  remoteAddress?: string;
}

export interface AdminSurface {
  /** For the API router: refuses a route of the surface (scope read or admin) against the three rules. */
  guard: RouteGuard;
  /** For a `/live` upgrade: the Host and Origin rules (a refusal before the handshake). */
  checkUpgrade(req: SurfaceRequest): BeaconError | undefined;
  /** For a `/live` upgrade: the loopback rule (a refusal the viewer can read, like a token's). */
  checkClient(req: SurfaceRequest): BeaconError | undefined;
  /** One line for the start-up log: where the admin surface answers, and from where. */
  describe(): string;
}

/** One entry of `api.allowedHosts`: a host name, `.example.com` (it and its subdomains), or `*` (any). */
export const allowedHostSchema = z
  .string()
  .regex(
    /^(\*|\.?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?)$/,
    'a host name such as beacon.lan, a domain with a leading dot such as .example.com (it and its subdomains), or * (any Host; only behind a proxy that checks it)',
  );

export const SECURITY_DOC = 'docs/security.md';

export function createAdminSurface(config: AdminSurfaceConfig): AdminSurface {
  const anyHost = config.allowedHosts.includes('*');
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of config.allowedHosts) {
    const name = normalizeName(entry);
    if (entry.startsWith('.')) suffixes.push(name.slice(1));
    else exact.add(name);
  }
  const bind = normalizeName(config.bindHost);
  if (bind !== '' && isIP(bind) === 0) exact.add(bind);
  const listedOrigins = new Set(
    config.corsOrigins
      .filter((o) => o !== '*')
      .map(originOf)
      .filter((o): o is string => o !== undefined),
  );

  function hostAllowed(hostHeader: string | undefined): boolean {
    // Browsers always send Host, so a request without one is not a rebinding page.
    if (hostHeader === undefined || anyHost) return true;
    const name = hostName(hostHeader);
    if (name === undefined) return false;
    if (isIP(name) !== 0) return true;
    if (name === 'localhost' || name.endsWith('.localhost')) return true;
    if (exact.has(name)) return true;
    return suffixes.some((s) => name === s || name.endsWith(`.${s}`));
  }

  function ownOrigin(origin: string, req: SurfaceRequest): boolean {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    const hosts = [req.headers.host];
    if (config.trustProxy) hosts.push(lastValue(req.headers['x-forwarded-host']));
    return hosts.some((h) => h !== undefined && authority(url.protocol, h) === url.host);
  }

  function checkHost(req: SurfaceRequest): BeaconError | undefined {
    if (hostAllowed(req.headers.host)) return undefined;
    const shown = JSON.stringify((req.headers.host ?? '').slice(0, 100));
    return new BeaconError(
      'BEACON_E_HOST_NOT_ALLOWED',
      `${req.path} answers only requests addressed to a name this server knows as its own (localhost, an IP address, server.host or api.allowedHosts); Host ${shown} is none of them. If that is this server's name, add it to api.allowedHosts (see ${SECURITY_DOC})`,
    );
  }

  function checkOrigin(req: SurfaceRequest, what: string): BeaconError | undefined {
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    if (ownOrigin(origin, req)) return undefined;
    const normal = originOf(origin);
    if (normal !== undefined && listedOrigins.has(normal)) return undefined;
    return new BeaconError(
      'BEACON_E_ORIGIN_NOT_ALLOWED',
      `${what} from a page of origin ${JSON.stringify(origin.slice(0, 200))} is refused: only Beacon's own page and origins listed in server.cors.origins (not *) may ${what === 'a /live connection' ? 'open /live' : 'change state'} (see ${SECURITY_DOC})`,
    );
  }

  function checkClient(req: SurfaceRequest): BeaconError | undefined {
    if (config.tokensConfigured || config.networksConfigured) return undefined;
    const ip = adminClientAddress({ ...req, query: {} }, config.trustProxy);
    if (ip !== undefined && isLoopbackAddress(ip)) return undefined;
    return new BeaconError(
      'BEACON_E_ADMIN_LOOPBACK_ONLY',
      `${req.path} answers only on this machine (loopback) while no api.tokens are configured; this request came from ${ip ?? 'an unknown address'}. Configure api.tokens to call it from elsewhere (see ${SECURITY_DOC})`,
    );
  }

  const guard: RouteGuard = (route: Pick<ApiRoute, 'class' | 'scope'>, req) => {
    if (route.scope === 'none') return undefined;
    const changesState = req.method !== 'GET' && req.method !== 'HEAD';
    return (
      checkHost(req) ?? (changesState ? checkOrigin(req, `${req.method} ${req.path}`) : undefined) ?? checkClient(req)
    );
  };

  return {
    guard,
    checkUpgrade: (req) => checkHost(req) ?? checkOrigin(req, 'a /live connection'),
    checkClient,
    describe() {
      const hosts = anyHost
        ? 'any Host'
        : `Host: localhost, IP addresses${[...exact, ...suffixes.map((s) => `*.${s}`)].map((h) => `, ${h}`).join('')}`;
      if (!config.tokensConfigured && config.networksConfigured)
        return `admin and query API: only from api.adminNetworks, no token (no api.tokens configured; ${hosts}); /live: loopback only; see ${SECURITY_DOC}`;
      if (!config.tokensConfigured)
        return `admin and query API, /live: loopback only (no api.tokens configured; ${hosts}); see ${SECURITY_DOC} to reach it from elsewhere`;
      return `admin and query API, /live: from any address with a token from api.tokens (${hosts}); see ${SECURITY_DOC}`;
    },
  };
}

/** 127.0.0.0/8, ::1, and both as IPv4-mapped IPv6 (`::ffff:127.0.0.1`). */
export function isLoopbackAddress(ip: string): boolean {
  const address = ip.toLowerCase().startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  const family = isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** The host part of a Host header, lower case, without port, brackets or a trailing dot; undefined if malformed. */
export function hostName(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return h.slice(1, end);
  }
  const colon = h.indexOf(':');
  if (colon >= 0 && (h.indexOf(':', colon + 1) >= 0 || !/^\d{1,5}$/.test(h.slice(colon + 1)))) return undefined;
  const name = colon >= 0 ? h.slice(0, colon) : h;
  return name === '' ? undefined : normalizeName(name);
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** `scheme://host[:port]` of an origin with a default port left out, or undefined if it is not one. */
function originOf(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.origin === 'null' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}

/** A Host header as a URL's `host` for `protocol` (default port left out), to compare with an Origin. */
function authority(protocol: string, host: string): string | undefined {
  try {
    const url = new URL(`${protocol}//${host.trim()}`);
    return url.pathname === '/' && url.username === '' && url.search === '' ? url.host : undefined;
  } catch {
    return undefined;
  }
}

function lastValue(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const last = header.slice(header.lastIndexOf(',') + 1).trim();
  return last === '' ? undefined : last;
}

/** The surface of a process from its config (for `/live`, which is served beside the collector). */
export function adminSurfaceOf(config: {
  server: { host: string; trustProxy: boolean; cors: { origins: readonly string[] } };
  api: { allowedHosts: readonly string[]; tokens: readonly unknown[] };
}): AdminSurface {
  return createAdminSurface({
    tokensConfigured: config.api.tokens.length > 0,
    allowedHosts: config.api.allowedHosts,
    bindHost: config.server.host,
    corsOrigins: config.server.cors.origins,
    trustProxy: config.server.trustProxy,
  });
}
