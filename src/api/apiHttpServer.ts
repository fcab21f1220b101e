import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readTlsFiles, watchTlsFiles } from '../net/tls.js';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import { jsonResponse, type AdminHandler } from './adminRequest.js';
import { adminFallback, writeAdminResponse } from './nodeAdapter.js';

/**
 * The HTTP server of `beacon start --role api`: only the API (and /healthz), no collector. It
 * keeps the collector server's timeouts (`server.requestTimeoutMs`, `headersTimeoutMs`,
 * `keepAliveTimeoutMs`), answers paths the API does not have with 404 BEACON_E_NOT_FOUND,
 * and drains on shutdown: no new connections, in-flight requests answered, then closed.
 */
export interface ApiHttpServer {
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish; cuts what is left at the deadline. */
  drain(timeoutMs: number): Promise<void>;
}

export function createApiHttpServer(options: {
  server: ServerConfig;
  handler: AdminHandler;
  logger: Logger;
  /** The 404 message for a path the API does not have, naming what this process serves (default: --role api's). */
  notFound?: (path: string) => string;
}): ApiHttpServer {
  const logger = options.logger.child({ component: 'http' });
  // No web page here: it shows the live stream and the sinks, which this role does not run.
  const serve = adminFallback(options.handler, async () => false);
  let draining = false;
  const requestTimeout = options.server.requestTimeoutMs;
  const serverOptions: ServerOptions = {
    requestTimeout,
    headersTimeout: Math.min(options.server.headersTimeoutMs, requestTimeout),
    keepAlive: true,
    noDelay: true,
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void answer(req, res);
  // server.tls applies here too, so an API process never serves plain http where https was configured.
  const tls = options.server.tls;
  const httpsServer = tls
    ? createHttpsServer(
        { ...serverOptions, ...readTlsFiles(tls), handshakeTimeout: serverOptions.headersTimeout },
        onRequest,
      )
    : undefined;
  const server: Server = httpsServer ?? createServer(serverOptions, onRequest);
  server.keepAliveTimeout = options.server.keepAliveTimeoutMs;
  // A renewed certificate is picked up without a restart, as on the collector (server.tls.checkEvery).
  const tlsWatch = httpsServer && tls ? watchTlsFiles(httpsServer, tls, tls.checkEvery, logger) : undefined;

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (draining) res.setHeader('connection', 'close');
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (await serve(req, res, url)) return;
      const missing = new BeaconError(
        'BEACON_E_NOT_FOUND',
        options.notFound?.(url.pathname) ??
          `no endpoint ${url.pathname} here: this process runs --role api (the query API, /metrics, /readyz, /healthz); events go to a collector`,
      );
      writeAdminResponse(res, jsonResponse(missing.status, missing.toBody()));
    } catch (err) {
      logger.error({ err }, 'API request failed; answered 500');
      if (!res.headersSent)
        writeAdminResponse(
          res,
          jsonResponse(500, new BeaconError('BEACON_E_INTERNAL', 'the request failed inside Beacon; retry').toBody()),
        );
      else res.destroy();
    }
  }

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    drain(timeoutMs) {
      draining = true;
      tlsWatch?.stop();
      return new Promise((resolve) => {
        const sweep = setInterval(() => server.closeIdleConnections(), 25);
        const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(deadline);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
