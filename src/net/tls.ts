import { readFileSync, statSync } from 'node:fs';
import type { Server } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import { TLS_EVENTS } from './internalEvents.js';

export type TlsConfig = NonNullable<ServerConfig['tls']>;

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/**
 * Reads `server.tls` and checks the files make a usable context (PEM, key matching the
 * certificate) before any socket is opened, so a wrong file stops Beacon at start with
 * BEACON_E_TLS_FILE naming it, instead of failing every handshake.
 */
export function readTlsFiles(tls: TlsConfig): TlsMaterial {
  const read = (key: 'cert' | 'key' | 'ca', path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new BeaconError(
        'BEACON_E_TLS_FILE',
        `server.tls.${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        { field: `server.tls.${key}` },
      );
    }
  };
  const material: TlsMaterial = { cert: read('cert', tls.cert), key: read('key', tls.key) };
  if (tls.ca) material.ca = read('ca', tls.ca);
  try {
    createSecureContext(material);
  } catch (err) {
    const reason = (err as Error).message;
    const field = /key/i.test(reason) && !/certificate/i.test(reason) ? 'key' : 'cert';
    throw new BeaconError(
      'BEACON_E_TLS_FILE',
      `server.tls: ${tls.cert} and ${tls.key} do not make a TLS certificate (${reason}); both must be PEM and the key must belong to the certificate`,
      { field: `server.tls.${field}` },
    );
  }
  return material;
}

/**
 * Checks the files every `everyMs` and, when one changed (a renewed certificate), loads them
 * into `server` for new connections without a restart. A half-written renewal (certificate
 * replaced, key not yet) fails the check, is logged and tried again at the next tick; the
 * old certificate stays in use meanwhile.
 */
export function watchTlsFiles(server: Server, tls: TlsConfig, everyMs: number, logger: Logger): { stop(): void } {
  if (everyMs <= 0) return { stop() {} };
  const stamp = (): string =>
    [tls.cert, tls.key, tls.ca]
      .filter((p): p is string => p !== undefined)
      .map((p) => {
        try {
          const s = statSync(p);
          return `${s.mtimeMs}:${s.size}:${s.ino}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  let loaded = stamp();
  let failing: string | undefined;
  const timer = setInterval(() => {
    const now = stamp();
    if (now === loaded) return;
    try {
      server.setSecureContext(readTlsFiles(tls));
      loaded = now;
      failing = undefined;
      TLS_EVENTS.tlsReloaded.emit({ logger }, { cert: tls.cert });
    } catch (err) {
      const reason = (err as Error).message;
      if (reason !== failing) TLS_EVENTS.tlsReloadFailed.emit({ logger }, { code: 'BEACON_E_TLS_FILE', err: reason });
      failing = reason;
    }
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
