/**
 * A read that got no answer in time. The replica set answers it BEACON_E_STORE_TIMEOUT without
 * failing over (a slow query is slow everywhere); its `code` stays ETIMEDOUT for logs.
 */
export class ReadTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';

  constructor(kind: string, label: string, timeoutMs: number) {
    super(`${kind} ${label}: no answer within ${timeoutMs} ms (store.queryTimeout)`);
    this.name = 'ReadTimeoutError';
  }
}
