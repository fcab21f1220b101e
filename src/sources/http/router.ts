import type { IncomingMessage, ServerResponse } from 'node:http';
import { BeaconError } from '../../errors/beaconError.js';
import { declaresTooLarge } from './body.js';
import type { NativeIntake } from './native/nativeIntake.js';
import type { createPixelEndpoint } from './native/pixelEndpoint.js';
import type { createSingleEventPost } from './native/singleEventPost.js';
import type { createBatchEndpoint } from './native/batchEndpoint.js';
import { TRACK_PREFIX } from './native/trackedType.js';
import { sendError, sendNoContent } from './responses.js';
import { SEGMENT_PREFIX, type SegmentApi } from './segment/index.js';
import type { SnowplowApi } from './snowplow/snowplowApi.js';
import type { createProtocolEndpoints } from './protocols.js';
import type { TrackerScript } from './trackerScript.js';
import { urlWithoutQueryValues } from './loggedUrl.js';

const BATCH_PATH = '/batch';
const TRACK_METHODS = 'GET, POST, OPTIONS';
const BATCH_METHODS = 'POST, OPTIONS';
const TRACKER_PATH = '/beacon.js';
/** Hosts usable as the base of the URL handed to `fallback`; anything else becomes `localhost`. */
const PLAIN_HOST = /^[A-Za-z0-9.:[\]-]{1,255}$/;

export interface RequestHandlers {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  /** `Expect: 100-continue`: a body declared too large is refused before the client sends it. */
  onCheckContinue(req: IncomingMessage, res: ServerResponse): void;
}

/** Everything a path can lead to; unset parts are not served. */
export interface Routes {
  intake: NativeIntake;
  pixel: ReturnType<typeof createPixelEndpoint>;
  single: ReturnType<typeof createSingleEventPost>;
  batch: ReturnType<typeof createBatchEndpoint>;
  trackerScript: TrackerScript | undefined;
  segment: SegmentApi | undefined;
  snowplow: SnowplowApi | undefined;
  protocols: ReturnType<typeof createProtocolEndpoints> | undefined;
  /** Every other path (/metrics, /healthz, /api/...); resolves false when it did not handle it (404). */
  fallback: ((req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>) | undefined;
  policy: { closeConnections: boolean };
}

/**
 * Sends each request to its endpoint by path and method, in this order: `/t/<type>` (pixel,
 * single event, CORS preflight), `/batch`, `/beacon.js`, the Segment API, the Snowplow paths,
 * the compatible protocols, then `fallback`, then 404. An endpoint that throws or rejects is
 * answered 500 BEACON_E_INTERNAL (or its connection destroyed when the answer had begun).
 */
export function createRouter(routes: Routes): RequestHandlers {
  const { intake, pixel, single, batch, trackerScript, segment, snowplow, protocols, fallback, policy } = routes;
  const { cors, refuse, refuseMethod, closeIfDraining, bodyLimits, logger } = intake;

  async function other(req: IncomingMessage, res: ServerResponse, rawUrl: string): Promise<void> {
    if (fallback !== undefined && (await fallback(req, res, requestUrl(rawUrl, req.headers.host)))) return;
    if (res.headersSent || res.destroyed) return;
    closeIfDraining(res);
    sendError(
      req,
      res,
      new BeaconError('BEACON_E_NOT_FOUND', `nothing is served at ${urlWithoutQueryValues(rawUrl)}`),
      undefined,
    );
  }

  function failed(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    logger.error({ err, method: req.method, url: urlWithoutQueryValues(req.url ?? '/') }, 'request handler failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(req, res, new BeaconError('BEACON_E_INTERNAL', 'the request could not be handled'), undefined);
  }

  function onCheckContinue(req: IncomingMessage, res: ServerResponse): void {
    // The Segment API and the compatible protocols take at least their original service's size
    // (curl asks to continue above 1 MB), even when server.limits.bodyBytes is lower.
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?', 1)[0]!;
    const cap =
      segment !== undefined && path.startsWith(SEGMENT_PREFIX)
        ? segment.bodyBytes
        : (protocols?.find(path)?.bodyBytes ?? bodyLimits.bodyBytes);
    if (!declaresTooLarge(req, cap)) {
      res.writeContinue();
      onRequest(req, res);
      return;
    }
    // The client holds the body back until told to continue, so closing now loses nothing.
    res.setHeader('Connection', 'close');
    refuse(
      req,
      res,
      'BEACON_E_BODY_TOO_LARGE',
      `request body is larger than ${cap} bytes`,
      cors.headersFor(req.headers.origin),
    );
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const now = Date.now();
    if (policy.closeConnections) res.setHeader('Connection', 'close');
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const method = req.method;
    let work: Promise<void> | undefined;
    try {
      if (path.startsWith(TRACK_PREFIX)) {
        if (method === 'GET') work = pixel(req, res, path, q === -1 ? '' : rawUrl.slice(q + 1), started, now);
        else if (method === 'POST') work = single(req, res, path, q === -1 ? '' : rawUrl.slice(q + 1), started, now);
        else if (method === 'OPTIONS')
          sendNoContent(res, cors.preflight(req.headers.origin, req.headers['access-control-request-headers']));
        else refuseMethod(req, res, TRACK_METHODS, cors.headersFor(req.headers.origin));
      } else if (path === BATCH_PATH) {
        if (method === 'POST') work = batch(req, res, q === -1 ? '' : rawUrl.slice(q + 1), started, now);
        else if (method === 'OPTIONS')
          sendNoContent(res, cors.preflight(req.headers.origin, req.headers['access-control-request-headers']));
        else refuseMethod(req, res, BATCH_METHODS, cors.headersFor(req.headers.origin));
      } else if (path === TRACKER_PATH && trackerScript !== undefined) {
        trackerScript.serve(req, res);
      } else if (segment !== undefined && path.startsWith(SEGMENT_PREFIX)) {
        work = segment.handle(req, res, path, started, now);
      } else if (snowplow?.owns(path)) {
        work = snowplow.handle(req, res, path, q === -1 ? '' : rawUrl.slice(q + 1), started, now);
      } else {
        const protocol = protocols?.find(path);
        if (protocol !== undefined)
          work = protocol.handle(req, res, path, q === -1 ? '' : rawUrl.slice(q + 1), started, now);
        else work = other(req, res, rawUrl);
      }
    } catch (err) {
      failed(req, res, err);
    }
    work?.catch((err: unknown) => failed(req, res, err));
  }

  return { onRequest, onCheckContinue };
}

/** The URL handed to `fallback`: always parseable, `//x` stays a path, never a host. */
function requestUrl(rawUrl: string, host: string | undefined): URL {
  const base = host !== undefined && PLAIN_HOST.test(host) ? `http://${host}` : 'http://localhost';
  try {
    return new URL(rawUrl.startsWith('/') ? base + rawUrl : rawUrl);
  } catch {
    return new URL(base + '/');
  }
}
