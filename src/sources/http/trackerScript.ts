import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { BeaconError } from '../../errors/beaconError.js';
import { sendError } from './responses.js';

/**
 * `GET /beacon.js`: the browser tracker (tracker/, docs/tracker.md), built by `npm run build`
 * into dist/tracker/beacon.js. The file is read once, when the collector starts; the settings
 * the tracker needs from the server config are written into it then, and its ETag and gzip
 * form are computed once. Answers carry a short Cache-Control, so a new Beacon version reaches
 * browsers within minutes, and revalidations cost a 304.
 */
export interface TrackerScript {
  /** False when the bundle was missing at start: /beacon.js then answers 404 BEACON_E_TRACKER_NOT_BUILT. */
  readonly built: boolean;
  serve(req: IncomingMessage, res: ServerResponse): void;
}

/** What the tracker learns from the collector's config. */
export interface TrackerSettings {
  /** Send cookies with cross-origin requests: `server.cors.credentials` with explicit origins. */
  credentials: boolean;
}

/** Where `npm run build` writes the bundle (the same path from src/ under tsx and from dist/). */
export const TRACKER_BUNDLE = fileURLToPath(new URL('../../../dist/tracker/beacon.js', import.meta.url));

/**
 * The bundle ends `})(/*BEACON_SETTINGS*\/{});` (scripts/build-tracker.mjs): the tracker's code
 * is a function of its settings, called with `{}` unless the collector writes them in here.
 */
export const SETTINGS_MARKER = '/*BEACON_SETTINGS*/{}';

const MAX_AGE_SECONDS = 300;
const ALLOW = 'GET, HEAD';

interface Prepared {
  etag: string;
  plain: Buffer;
  gzip: Buffer;
}

export function loadTrackerScript(settings: TrackerSettings, path: string = TRACKER_BUNDLE): TrackerScript {
  const prepared = prepare(path, settings);

  function serve(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', ALLOW);
      return sendError(
        req,
        res,
        new BeaconError('BEACON_E_METHOD_NOT_ALLOWED', `${req.method ?? '?'} is not allowed here; use ${ALLOW}`),
        undefined,
      );
    }
    if (prepared === undefined) {
      return sendError(
        req,
        res,
        new BeaconError(
          'BEACON_E_TRACKER_NOT_BUILT',
          `the browser tracker was not built (${path} is missing); run \`npm run build\` and restart Beacon`,
        ),
        undefined,
      );
    }
    res.setHeader('ETag', prepared.etag);
    res.setHeader('Cache-Control', `public, max-age=${MAX_AGE_SECONDS}`);
    res.setHeader('Vary', 'Accept-Encoding');
    // Sites that isolate themselves (COEP) or load the script with `crossorigin` (SRI) can still use it.
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (matchesEtag(req.headers['if-none-match'], prepared.etag)) {
      res.writeHead(304);
      res.end();
      return;
    }
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    const body = gzip ? prepared.gzip : prepared.plain;
    res.writeHead(200, {
      'Content-Type': 'application/javascript; charset=utf-8',
      'Content-Length': body.length,
      'X-Content-Type-Options': 'nosniff',
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  return { built: prepared !== undefined, serve };
}

function prepare(path: string, settings: TrackerSettings): Prepared | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const at = text.lastIndexOf(SETTINGS_MARKER);
  if (at !== -1) text = text.slice(0, at) + JSON.stringify(settings) + text.slice(at + SETTINGS_MARKER.length);
  const plain = Buffer.from(text, 'utf8');
  const etag = `"${createHash('sha256').update(plain).digest('base64url').slice(0, 22)}"`;
  return { etag, plain, gzip: gzipSync(plain, { level: 9 }) };
}

/** `If-None-Match: "a", W/"b"` or `*`; weak and strong forms match alike (RFC 9110's weak comparison for GET). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  for (const raw of header.split(',')) {
    const tag = raw.trim();
    if (tag === '*' || tag === etag || tag === `W/${etag}`) return true;
  }
  return false;
}

function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip') continue;
    return !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p));
  }
  return false;
}
