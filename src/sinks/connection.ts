import { SinkError } from './sink.js';

/**
 * "Connection broken → reconnect on the next attempt", for sinks whose client reports a lost
 * connection as an `error` event between attempts (pg, mysql2, rabbitmq-client):
 * - the first error seen marks the connection broken (`markBroken`, the event listener);
 * - an attempt on a broken or missing connection fails with `lost()`: `reconnect`, or the
 *   cause's own `fatal` (the server refused the credentials), so the loop closes and reopens;
 * - `open` calls `reset` for the new connection.
 */
export class BrokenConnection {
  private cause: unknown;

  /**
   * @param classify the sink's own failure classification
   * @param sinkType names the sink in "<type> sink is not connected"
   */
  constructor(
    private readonly classify: (err: unknown) => SinkError,
    private readonly sinkType: string,
  ) {}

  get broken(): boolean {
    return this.cause !== undefined;
  }

  /** The client's `error` listener: the first error is the one reported. */
  readonly markBroken = (err: unknown): void => {
    this.cause ??= err;
  };

  reset(): void {
    this.cause = undefined;
  }

  /** Why an attempt cannot be made: the connection is gone (or was never opened). */
  lost(): SinkError {
    const cause = this.cause;
    if (cause instanceof SinkError) return cause;
    if (cause) {
      const e = this.classify(cause);
      return e.kind === 'fatal' ? e : new SinkError('reconnect', e.message, { errorType: e.errorType, cause });
    }
    return new SinkError('reconnect', `${this.sinkType} sink is not connected`, { errorType: 'not_open' });
  }

  /** Classifies a failed attempt; one that leaves the connection unusable marks it broken. */
  failed(err: unknown): SinkError {
    const e = this.broken && !(err instanceof SinkError) ? this.lost() : this.classify(err);
    if (e.kind === 'reconnect') this.cause ??= err;
    return e;
  }
}
