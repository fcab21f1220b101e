import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { LiveHub, LiveSocket } from './hub.js';
import { parseViewerFilter, ViewerFilterError, type ViewerFilter } from './viewerFilter.js';

export const LIVE_PATH = '/live';
/** WebSocket close code 1008, "policy violation": the query string was not understood. */
export const CLOSE_BAD_QUERY = 1008;
/**
 * Decides whether an upgrade request may watch (src/api/liveAuth.ts). A viewer refused with
 * `code` completes the handshake and is closed with `code` and `reason`, which browsers can
 * read; one refused with `httpStatus` gets that HTTP answer (a JSON `body`) and no socket.
 */
export type LiveAuthorizer = (
  req: IncomingMessage,
  url: URL,
) => { ok: true } | { ok: false; code: number; reason: string } | { ok: false; httpStatus: number; body: string };
/** A closed viewer that does not finish the close handshake (it is not reading) is cut after this. */
const CLOSE_GRACE_MS = 1000;

/**
 * `GET /live`: the WebSocket handshake (by `ws`), then the viewer joins the hub. A bad query
 * string still completes the handshake and is closed with 1008 and the reason, which browsers
 * can read (a refused handshake shows them nothing). Viewers send nothing Beacon listens to.
 */
export function createLiveEndpoint(hub: LiveHub, logger: Logger, authorize?: LiveAuthorizer) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4096,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const log = logger.child({ component: 'live' });

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== LIVE_PATH) return false;
    const access = authorize?.(req, url) ?? { ok: true };
    if (!access.ok && 'httpStatus' in access) {
      refuseHandshake(socket, access.httpStatus, access.body);
      return true;
    }
    let filter: ViewerFilter | undefined;
    let problem = '';
    try {
      // `token` is the credential of browsers (which cannot set headers on a WebSocket), not a filter.
      const params = new URLSearchParams(url.searchParams);
      params.delete('token');
      filter = parseViewerFilter(params);
    } catch (err) {
      if (!(err instanceof ViewerFilterError)) throw err;
      problem = err.message;
    }
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!access.ok) {
        ws.close(access.code, truncateReason(access.reason));
        return;
      }
      if (!filter) {
        ws.close(CLOSE_BAD_QUERY, truncateReason(problem));
        return;
      }
      ws.on('error', (err) => {
        log.debug({ err }, 'live viewer socket error');
        ws.terminate();
      });
      const handle = hub.add(liveSocket(ws), filter);
      if (handle) ws.on('close', () => hub.remove(handle));
    });
    return true;
  }

  return { onUpgrade, close: () => hub.close() };
}

function liveSocket(ws: WebSocket): LiveSocket {
  return {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send: (data) => ws.send(data),
    close: (code, reason) => {
      ws.close(code, truncateReason(reason));
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    },
  };
}

/** Answers an upgrade request with a plain HTTP error and closes the connection: no WebSocket is made. */
function refuseHandshake(socket: Duplex, status: number, body: string): void {
  socket.on('error', () => socket.destroy());
  const bytes = Buffer.byteLength(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${bytes}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** A close reason must fit in 123 bytes. */
function truncateReason(reason: string): string {
  return Buffer.byteLength(reason) <= 123
    ? reason
    : Buffer.from(reason)
        .subarray(0, 120)
        .toString('utf8')
        .replace(/\uFFFD$/, '') + '...';
}
