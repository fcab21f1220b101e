import { ApiError, type BeaconApi } from './api.js';
import { parseStatus, type StatusView } from './parse.js';

export type StatusUpdate = { ok: true; status: StatusView; at: number } | { ok: false; error: ApiError; at: number };

/**
 * Asks `/api/v1/status` once a second (one request in flight at most) and hands each answer
 * to the header and the destinations view. It keeps going through errors, so the page
 * recovers by itself when Beacon comes back or a token is given.
 */
export class StatusPoller {
  private readonly listeners = new Set<(u: StatusUpdate) => void>();
  private timer: number | undefined;
  private inFlight = false;
  last: StatusUpdate | undefined;

  constructor(
    private readonly api: BeaconApi,
    private readonly everyMs = 1000,
  ) {}

  subscribe(listener: (u: StatusUpdate) => void): void {
    this.listeners.add(listener);
    if (this.last) listener(this.last);
  }

  start(): void {
    if (this.timer !== undefined) return;
    void this.poll();
    this.timer = window.setInterval(() => void this.poll(), this.everyMs);
  }

  /** Polls now (after a token was given, a replay ran...). */
  refresh(): Promise<void> {
    return this.poll();
  }

  private async poll(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    let update: StatusUpdate;
    try {
      update = { ok: true, status: parseStatus(await this.api.get('/api/v1/status')), at: Date.now() };
    } catch (err) {
      update = {
        ok: false,
        error: err instanceof ApiError ? err : new ApiError(0, 'SHAPE', (err as Error).message),
        at: Date.now(),
      };
    } finally {
      this.inFlight = false;
    }
    this.last = update;
    for (const l of this.listeners) l(update);
  }
}
