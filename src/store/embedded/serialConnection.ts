import type { DuckDBConnection } from '@duckdb/node-api';
import { BeaconError } from '../../errors/beaconError.js';

/**
 * One DuckDB connection whose uses run one after another.
 *
 * The node API runs each query on a libuv pool thread, the pool the local log's file I/O
 * also uses (4 threads by default). Queuing every query of a connection here means the store
 * holds at most one pool thread per connection (the writer's and the reader's), however many
 * API requests arrive at once, so a burst of queries never delays the log's appends.
 */
export class SerialConnection {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly connection: DuckDBConnection,
    /** Names the connection in errors: `writer` or `reader`. */
    readonly role: string,
  ) {}

  /** Runs `fn` with the connection once every earlier use has settled. */
  use<T>(fn: (connection: DuckDBConnection) => Promise<T> | T): Promise<T> {
    const run = this.tail.then(() => {
      if (this.closed)
        throw new BeaconError(
          'BEACON_E_STORE_UNAVAILABLE',
          'the embedded store is closed (Beacon is shutting down); retry against a running instance',
        );
      return fn(this.connection);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Waits for the queued uses, then disconnects; later uses fail with BEACON_E_STORE_UNAVAILABLE. */
  async close(): Promise<void> {
    await this.use(() => {
      this.closed = true;
      this.connection.closeSync();
    }).catch(() => undefined);
  }
}
