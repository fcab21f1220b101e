import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AdminHandler, AdminRequest, AdminResponse } from './adminRequest.js';
import { createWebPage, type WebPageHandler } from './webPage.js';

const MAX_ADMIN_BODY = 1024 * 1024;

/** Turns a node request into an AdminRequest (body read for POST/PUT, bounded). */
export async function toAdminRequest(req: IncomingMessage, url: URL): Promise<AdminRequest> {
  let body: string | undefined;
  if (req.method === 'POST' || req.method === 'PUT') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_ADMIN_BODY) break;
      chunks.push(chunk);
    }
    body = Buffer.concat(chunks).toString('utf8');
  }
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body, remoteAddress: req.socket.remoteAddress, tls: (req.socket as TLSSocket).encrypted === true };
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
      writeAdminResponse(res, { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: '{"ok":true}' });
      return true;
    }
    if (await webPage(req, res, url)) return true;
    const response = await handler(await toAdminRequest(req, url));
    if (!response) return false;
    writeAdminResponse(res, response);
    return true;
  };
}
