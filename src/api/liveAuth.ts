import type { LiveAuthorizer } from '../live/endpoint.js';
import { bearerToken, type ApiAuth } from './auth.js';

/** WebSocket close codes for refused viewers: 4000 + the HTTP status they stand for. */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

/**
 * `/live` needs the `read` scope when tokens are configured. The token comes from
 * `Authorization: Bearer` (what `beacon tail` sends) or `?token=` (browsers cannot set headers
 * on a WebSocket; a token in a URL can end up in proxy access logs, so prefer the header
 * wherever the client can send one).
 */
export function liveAuthorizer(auth: ApiAuth): LiveAuthorizer {
  return (req, url) => {
    const token = bearerToken(req.headers.authorization) ?? url.searchParams.get('token') ?? undefined;
    const outcome = auth.authorize('read', token);
    if (outcome.ok) return { ok: true };
    const code = outcome.error.code === 'BEACON_E_FORBIDDEN' ? CLOSE_FORBIDDEN : CLOSE_UNAUTHORIZED;
    return { ok: false, code, reason: `${outcome.error.code}: ${outcome.error.message}` };
  };
}
