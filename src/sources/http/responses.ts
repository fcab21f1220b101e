import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BeaconError } from '../../errors/beaconError.js';
import type { HeaderMap } from './cors.js';

/** A 1x1 transparent GIF (43 bytes, the form every decoder reads), answered by `GET /t/<type>.gif`. */
export const TRANSPARENT_GIF = Buffer.from(
  '474946383961' + // GIF89a
    '01000100' +
    '800000' + // 1x1 screen, a 2-colour table
    'ffffff' +
    '000000' + // the table
    '21f9040100000000' + // graphic control: colour 0 is transparent
    '2c' +
    '00000000' +
    '01000100' +
    '00' + // one 1x1 image
    '0202440100' + // its LZW data
    '3b', // trailer
  'hex',
);

/** Pixel answers must reach the server every time, so nothing may cache them (204s are cacheable by default). */
const NO_CACHE: HeaderMap = {
  'Cache-Control': 'no-cache, no-store, must-revalidate',
  Pragma: 'no-cache',
  Expires: '0',
};
const GIF_HEADERS: HeaderMap = {
  ...NO_CACHE,
  'Content-Type': 'image/gif',
  'Content-Length': String(TRANSPARENT_GIF.length),
};
const JSON_TYPE = 'application/json; charset=utf-8';

function applyHeaders(res: ServerResponse, headers: HeaderMap | undefined): void {
  if (headers === undefined) return;
  for (const name in headers) res.setHeader(name, headers[name]!);
}

/** 204 (or the GIF) for a pixel, with no-cache headers. */
export function sendPixel(res: ServerResponse, gif: boolean, cors: HeaderMap | undefined): void {
  applyHeaders(res, cors);
  if (gif) {
    res.writeHead(200, GIF_HEADERS);
    res.end(TRANSPARENT_GIF);
  } else {
    res.writeHead(204, NO_CACHE);
    res.end();
  }
}

export function sendNoContent(res: ServerResponse, headers: HeaderMap | undefined): void {
  applyHeaders(res, headers);
  res.writeHead(204);
  res.end();
}

export function sendJson(res: ServerResponse, status: number, body: string, cors: HeaderMap | undefined): void {
  applyHeaders(res, cors);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Answers `{code, message}` with the error's status. Does nothing when an answer was already
 * started or the client is gone. When the request body was not read to its end (refused
 * early: too large, wrong type), the rest is read and thrown away, up to LINGER_BYTES, then
 * the connection is cut: closing at once with unread bytes makes TCP send a reset that can
 * destroy the answer before the client reads it (the reason nginx has lingering_close).
 */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  err: BeaconError,
  cors: HeaderMap | undefined,
): void {
  if (res.headersSent || res.destroyed) return;
  if (err.code === 'BEACON_E_LOG_FULL' || err.code === 'BEACON_E_BUSY')
    res.setHeader('Retry-After', String(retryAfterSeconds(err)));
  if (err.code === 'BEACON_E_LOG_CLOSED') res.setHeader('Connection', 'close');
  sendJson(res, err.status, JSON.stringify(err.toBody()), cors);
  if (hasUnreadBody(req)) discardRest(req);
}

/**
 * How much of a refused body is read (and dropped) after the answer before the connection is
 * cut. A client still sending when the cut comes may lose the answer to the reset (Node's
 * client reports EPIPE instead of the 413), so this covers bodies a few times
 * `server.limits.bodyBytes` (1 MiB at first, which a 2 MiB body lost now and then); reading
 * and dropping costs no parsing, and the request timeout bounds the time.
 */
export const LINGER_BYTES = 8 * 1024 * 1024;

function discardRest(req: IncomingMessage): void {
  const socket = req.socket;
  let discarded = 0;
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) {
      req.off('data', onData);
      socket.destroy();
    }
  };
  req.on('data', onData);
  req.resume();
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** The log says how long to wait; a whole number of seconds, at least 1. */
function retryAfterSeconds(err: BeaconError): number {
  const value = err.details?.retryAfterSeconds;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : 1;
}
