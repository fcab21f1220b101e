import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { BeaconError } from '../../errors/beaconError.js';
import { createRequestHandlers, type ConnectionPolicy, type HttpServerDeps } from './collector.js';
import { sendError } from './responses.js';
import { readTlsFiles, watchTlsFiles } from '../../net/tls.js';

export type { HttpServerDeps };

export interface BeaconHttpServer {
  /** The underlying node server (for tests and for attaching upgrade handlers). */
  readonly server: Server;
  /** Listens (defaults: `config.port`, `config.host`); resolves with the bound address. */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  /**
   * Stops accepting connections, closes idle keep-alive connections, lets in-flight requests
   * finish (their emits resolve and are answered, with `Connection: close`), and answers any
   * new request on a still-open connection with `Connection: close`. Resolves when every
   * connection is gone, or at the deadline after cutting the rest (`timedOut: true`).
   */
  drain(timeoutMs: number): Promise<{ timedOut: boolean }>;
}

/** How often node sweeps for requests past headersTimeout/requestTimeout (its default is 30 s). */
function checkingInterval(timeoutMs: number): number {
  return Math.max(100, Math.min(1000, Math.floor(timeoutMs / 4)));
}

/** Answers for requests refused before the collector sees them (written straight to the socket). */
function rawAnswer(status: string, body?: BeaconError): string {
  if (body === undefined) return `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
  const json = JSON.stringify(body.toBody());
  return `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}

/** Takes an HTTP upgrade (the `/live` WebSocket); returns false when the path is not its own. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

export function createHttpServer(deps: HttpServerDeps): BeaconHttpServer {
  const { config, metrics } = deps;
  const logger = deps.logger.child({ component: 'http' });
  // keepAliveTimeoutMs 0 turns keep-alive off (node would read it as "never time out").
  const policy: ConnectionPolicy = { closeConnections: config.keepAliveTimeoutMs === 0 };
  const handlers = createRequestHandlers(deps, policy);

  const requestTimeout = config.requestTimeoutMs;
  // node refuses a headersTimeout above requestTimeout.
  const headersTimeout = Math.min(config.headersTimeoutMs, requestTimeout);
  const options: ServerOptions = {
    requestTimeout,
    headersTimeout,
    connectionsCheckingInterval: checkingInterval(headersTimeout),
    noDelay: true,
    keepAlive: true,
  };
  // server.tls: the same handlers behind node:https; the plain path stays bare node:http.
  const tls = config.tls;
  const httpsServer = tls
    ? createHttpsServer({ ...options, ...readTlsFiles(tls), handshakeTimeout: headersTimeout }, handlers.onRequest)
    : undefined;
  const server: Server = httpsServer ?? createServer(options, handlers.onRequest);
  const tlsWatch = httpsServer && tls ? watchTlsFiles(httpsServer, tls, tls.checkEvery, logger) : undefined;
  server.keepAliveTimeout = config.keepAliveTimeoutMs;

  server.on('checkContinue', handlers.onCheckContinue);

  const timeoutAnswer = rawAnswer(
    '408 Request Timeout',
    new BeaconError('BEACON_E_REQUEST_TIMEOUT', `the request was not received within ${requestTimeout} ms`),
  );
  // Node's parser refuses these before any handler runs; answer them with a coded body like every other refusal.
  const badRequestAnswer = rawAnswer(
    '400 Bad Request',
    new BeaconError('BEACON_E_BAD_REQUEST', 'the request is not valid HTTP/1.1'),
  );
  const headersTooLargeAnswer = rawAnswer(
    '431 Request Header Fields Too Large',
    new BeaconError(
      'BEACON_E_HEADERS_TOO_LARGE',
      'the request line and headers are larger than this server reads (16 KiB by default)',
    ),
  );
  // Without a listener node answers a foreign `Expect` with a bare 417.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Connection', 'close');
    sendError(
      req,
      res,
      new BeaconError(
        'BEACON_E_EXPECTATION_FAILED',
        `Expect: ${String(req.headers.expect).slice(0, 64)} is not supported; only 100-continue is`,
      ),
      undefined,
    );
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut) {
      // A request that never arrived whole: received and refused, so the ledger balances.
      metrics.eventsReceived.inc({ source: 'http' });
      metrics.eventsRejected.inc({ source: 'http', code: 'BEACON_E_REQUEST_TIMEOUT' });
    }
    // An answer already under way (say a 413 sent while the body still trickles in) must not
    // be followed by a second one on the same connection.
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      socket.write(
        timedOut ? timeoutAnswer : err.code === 'HPE_HEADER_OVERFLOW' ? headersTooLargeAnswer : badRequestAnswer,
      );
    }
    socket.destroy();
  });
  server.on('error', (err) => logger.error({ err }, 'http server error'));
  // A failed handshake (plain http to the https port, an untrusted client, a scanner) concerns that client only.
  if (tls) server.on('tlsClientError', (err: Error) => logger.debug({ err: err.message }, 'TLS handshake failed'));

  const onUpgrade = deps.onUpgrade;
  if (onUpgrade) {
    const notFound = rawAnswer(
      '404 Not Found',
      new BeaconError('BEACON_E_NOT_FOUND', 'no WebSocket endpoint here; use /live'),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      let taken = false;
      try {
        taken = onUpgrade(req, socket, head);
      } catch (err) {
        logger.error({ err }, 'upgrade handler failed');
      }
      if (!taken) {
        if (socket.writable) socket.write(notFound);
        socket.destroy();
      }
    });
  }

  function listen(port: number = config.port, host: string = config.host): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        server.off('error', onError);
        const address = server.address() as AddressInfo;
        logger.info({ address: address.address, port: address.port }, 'http collector listening');
        resolve(address);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, host);
    });
  }

  function drain(timeoutMs: number): Promise<{ timedOut: boolean }> {
    policy.closeConnections = true;
    tlsWatch?.stop();
    return new Promise((resolve) => {
      let settled = false;
      const settle = (timedOut: boolean) => {
        if (settled) return;
        settled = true;
        clearInterval(sweep);
        clearTimeout(deadline);
        if (timedOut) logger.warn({ timeoutMs }, 'http drain deadline reached; open connections were cut');
        resolve({ timedOut });
      };
      // Resolves once the last connection has closed (at once when not listening).
      server.close(() => settle(false));
      // Connections become idle as their last answer goes out; close them as they do.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 25);
      const deadline = setTimeout(() => {
        server.closeAllConnections();
        settle(true);
      }, timeoutMs);
    });
  }

  return { server, listen, drain };
}
