import type { IncomingMessage } from 'node:http';
import type { LiveAuthorizer } from '../live/endpoint.js';
import type { AdminSurface, SurfaceRequest } from './adminSurface.js';
import { bearerToken, type ApiAuth } from './auth.js';

/** WebSocket close codes for refused viewers: 4000 + the HTTP status they stand for. */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

/**
 * `/live` is part of the admin surface (adminSurface.ts). A `Host` this server does not answer
 * to, or an `Origin` that is neither its own page nor listed in `server.cors.origins`, is
 * refused before the handshake with a coded 403: a foreign page never gets a socket. A client
 * that is not on loopback while no tokens are configured, and a missing or weak token, complete
 * the handshake and are closed with 4403/4401 and the reason, which browsers can read.
 *
 * With tokens, `/live` needs the `read` scope. The token comes from `Authorization: Bearer`
 * (what `beacon tail` sends) or `?token=` (browsers cannot set headers on a WebSocket; a token
 * in a URL can end up in proxy access logs, so prefer the header wherever the client can send one).
 */
export function liveAuthorizer(auth: ApiAuth, surface?: AdminSurface): LiveAuthorizer {
  return (req, url) => {
    if (surface) {
      const view = surfaceRequest(req, url);
      const foreign = surface.checkUpgrade(view);
      if (foreign) return { ok: false, httpStatus: foreign.status, body: JSON.stringify(foreign.toBody()) };
      const remote = surface.checkClient(view);
      if (remote) return { ok: false, code: CLOSE_FORBIDDEN, reason: `${remote.code}: ${remote.message}` };
    }
    const token = bearerToken(req.headers.authorization) ?? url.searchParams.get('token') ?? undefined;
    const outcome = auth.authorize('read', token);
    if (outcome.ok) return { ok: true };
    const code = outcome.error.code === 'BEACON_E_FORBIDDEN' ? CLOSE_FORBIDDEN : CLOSE_UNAUTHORIZED;
    return { ok: false, code, reason: `${outcome.error.code}: ${outcome.error.message}` };
  };
}

function surfaceRequest(req: IncomingMessage, url: URL): SurfaceRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return { method: req.method ?? 'GET', path: url.pathname, headers, remoteAddress: req.socket.remoteAddress };
}
