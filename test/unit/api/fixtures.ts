import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { apiSchema, type ApiConfig } from '../../../src/api/apiConfig.js';
import type { AdminRequest, AdminResponse } from '../../../src/api/adminRequest.js';
import { createApi } from '../../../src/api/createApi.js';
import type { ApiRoute } from '../../../src/api/route.js';
import type { Clock } from '../../../src/ops/clock.js';

/** A logger whose JSON lines the test can read. */
export function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const logger = pino({ level: 'debug', timestamp: pino.stdTimeFunctions.isoTime }, stream);
  return {
    logger,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  constructor(public time = 1_700_000_000_000) {}
  now(): number {
    return this.time;
  }
  sleep(): Promise<void> {
    return Promise.resolve();
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

export function apiConfig(raw: Record<string, unknown> = {}): ApiConfig {
  return apiSchema.parse(raw);
}

export function request(partial: Partial<AdminRequest> & { path: string }): AdminRequest {
  return { method: 'GET', query: {}, headers: {}, remoteAddress: '127.0.0.1', ...partial };
}

export const READ_TOKEN = 'read-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

export const TOKENS = [
  { name: 'dashboard', token: READ_TOKEN, scopes: ['read'] },
  { name: 'ops', token: ADMIN_TOKEN, scopes: ['admin'] },
];

/** The whole API of a process (router, auth, cache, audit) over `routes`, with a readable log. */
export function apiOver(routes: ApiRoute[], raw: Record<string, unknown> = {}, clock = new ManualClock()) {
  const log = captureLogger();
  const registry = new Registry();
  const api = createApi({ api: apiConfig(raw), host: '127.0.0.1', routes, logger: log.logger, registry, clock });
  const call = async (req: Partial<AdminRequest> & { path: string }): Promise<AdminResponse | undefined> =>
    api.handler(request(req));
  return { ...api, call, log, registry, clock };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
