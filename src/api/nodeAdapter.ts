import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AdminHandler, AdminRequest, AdminResponse } from './adminRequest.js';
import { createWebPage, type WebPageHandler } from './webPage.js';
import { isBeaconError } from '../errors/beaconError.js';
import { ClientGoneError, readBody } from '../sources/http/body.js';
import { sendError } from '../sources/http/responses.js';

const MAX_ADMIN_BODY = 1024 * 1024;
const ADMIN_BODY_LIMITS = { bodyBytes: MAX_ADMIN_BODY, decompressedBytes: MAX_ADMIN_BODY };

/**
 * Turns a node request into an AdminRequest (body read for POST/PUT through the collector's
 * bounded reader: over 1 MiB, or JSON nested or repeated past the JSON bounds, it rejects with
 * the coded BeaconError to answer; a client gone mid-body rejects with ClientGoneError).
 */
export async function toAdminRequest(req: IncomingMessage, url: URL): Promise<AdminRequest> {
  // Read before the body: a refused body ends with the socket cut, and node then drops req.socket.
  const remoteAddress = req.socket?.remoteAddress;
  const tls = (req.socket as TLSSocket | null)?.encrypted === true;
  let body: string | undefined;
  if (req.method === 'POST' || req.method === 'PUT') body = (await readBody(req, ADMIN_BODY_LIMITS)).toString('utf8');
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    body,
    remoteAddress,
    tls,
  };
}

export function writeAdminResponse(res: ServerResponse, response: AdminResponse): void {
  res.writeHead(response.status, response.headers);
  res.end(response.body);
}

/**
 * A collector `fallback` that serves admin routes through `handler` (in-process or over IPC),
 * and the web page's static files from this process (they need no dispatcher state).
 */
export function adminFallback(handler: AdminHandler, webPage: WebPageHandler = createWebPage()) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (url.pathname === '/healthz') {
      writeAdminResponse(res, {
        status: 200,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
        body: '{"ok":true}',
      });
      return true;
    }
    if (await webPage(req, res, url)) return true;
    let request: AdminRequest;
    try {
      request = await toAdminRequest(req, url);
    } catch (err) {
      if (err instanceof ClientGoneError) return true;
      if (!isBeaconError(err)) throw err;
      sendError(req, res, err, undefined);
      return true;
    }
    const response = await handler(request);
    if (!response) return false;
    writeAdminResponse(res, response);
    return true;
  };
}
