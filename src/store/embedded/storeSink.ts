import type { TrackedEvent } from '../../event/trackedEvent.js';
import { isBeaconError } from '../../errors/beaconError.js';
import { SinkError, type Sink } from '../../sinks/sink.js';
import type { EventWriter } from './eventWriter.js';

/** The internal sink's name: it shows in `beacon status` and takes `beacon replay` like any sink. */
export const STORE_SINK_NAME = '_store';
export const STORE_SINK_TYPE = 'store';

/**
 * The internal sink that feeds the embedded store from the log, through its own cursor, so
 * the store trails the log like any sink and a slow query never holds up another sink.
 * Every `deliver` waits for the append to be committed, so nothing is buffered here and a
 * crash re-delivers at most the uncommitted batch, which the writer does not write twice.
 */
export class EmbeddedStoreSink implements Sink {
  constructor(private readonly writer: EventWriter) {}

  /** The database is opened with the process (the query API shares it), so there is nothing to connect. */
  async open(): Promise<void> {}

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    try {
      await this.writer.write(batch);
    } catch (err) {
      throw classify(err);
    }
  }

  async close(): Promise<void> {}
}

/**
 * DuckDB marks a database invalidated after a failure it cannot recover from in-process
 * (a failed write to the file or WAL); only a restart reopens it, so that is fatal. A closed
 * store means Beacon is stopping. Anything else (out of memory, a full disk) may pass: retry.
 */
function classify(err: unknown): SinkError {
  const message = (err as Error | undefined)?.message ?? String(err);
  if (isBeaconError(err) && err.code === 'BEACON_E_STORE_UNAVAILABLE')
    return new SinkError('retry', message, { errorType: 'store_closed', cause: err });
  if (/invalidated|FATAL Error/i.test(message)) {
    return new SinkError(
      'fatal',
      `the embedded store failed and must be reopened: restart Beacon (events wait in the log). DuckDB said: ${message}`,
      { errorType: 'store_invalidated', cause: err },
    );
  }
  if (/out of memory/i.test(message))
    return new SinkError('retry', `${message} (raise store.memoryLimit if this repeats)`, {
      errorType: 'store_memory',
      cause: err,
    });
  return new SinkError('retry', `the embedded store could not append: ${message}`, {
    errorType: 'store_io',
    cause: err,
  });
}
