import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BeaconError } from '../errors/beaconError.js';

/**
 * Serves the web page (built by scripts/build-web.mjs into `dist/web/`) at `/`:
 *
 * - `GET /` is `index.html`, answered `no-cache` so a new build shows on the next load;
 * - `GET /assets/<name>` are esbuild's content-hashed files, cached for a year (`immutable`):
 *   a new build has new names, so a stale asset can never be served for a new page.
 *
 * Only those paths are served, and an asset name must be one plain file name (letters,
 * digits, `.`, `_`, `-`; no `..`, no `/`, no `%`), checked again after resolving, so no
 * request can read outside the build folder. Every answer has an ETag and honours
 * If-None-Match (304). Files are read per request (they are small and the OS caches them), so
 * rebuilding while Beacon runs needs no restart.
 */

/** `dist/web` at the package root, whether Beacon runs from `dist/` or (tsx) from `src/`. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

const ASSET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * The page's own policy: scripts and styles only from Beacon itself (no CDN, no inline
 * script), connections only back to it (the API and the `/live` WebSocket).
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export type WebPageHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export function createWebPage(dir: string = DEFAULT_WEB_DIR): WebPageHandler {
  const root = resolve(dir);

  function fileFor(pathname: string): { path: string; immutable: boolean } | undefined {
    if (pathname === '/' || pathname === '/index.html') return { path: join(root, 'index.html'), immutable: false };
    if (!pathname.startsWith('/assets/')) return undefined;
    const name = pathname.slice('/assets/'.length);
    if (!ASSET_NAME.test(name) || name.includes('..')) return undefined;
    const path = resolve(root, 'assets', name);
    return path.startsWith(root + sep) ? { path, immutable: true } : undefined;
  }

  return async (req, res, url) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const target = fileFor(url.pathname);
    if (!target) return false;
    let body: Buffer;
    try {
      const info = await stat(target.path);
      if (!info.isFile()) return false;
      body = await readFile(target.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (target.immutable) return false;
      const error = new BeaconError(
        'BEACON_E_WEB_NOT_BUILT',
        `the web page is not built (no ${join(root, 'index.html')}); run \`npm run build\` and reload`,
      );
      send(
        res,
        error.status,
        { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
        req.method === 'HEAD' ? undefined : JSON.stringify(error.toBody()),
      );
      return true;
    }
    const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`;
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[extname(target.path)] ?? 'application/octet-stream',
      'cache-control': target.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag,
      ...(target.immutable ? { 'x-content-type-options': 'nosniff' } : PAGE_HEADERS),
    };
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      send(res, 304, headers, undefined);
      return true;
    }
    headers['content-length'] = String(body.length);
    send(res, 200, headers, req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: Buffer | string | undefined,
): void {
  res.writeHead(status, headers);
  res.end(body);
}
