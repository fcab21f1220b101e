import type { Logger } from 'pino';
import type { EventLog } from '../log/eventLog.js';
import type { FeedSink, LiveFeed } from './hub.js';

const BATCH = 500;
const WAIT_MS = 1000;

/**
 * A live feed over the log: one ephemeral cursor (it starts at the end, is never persisted
 * and never holds segments) opened when the hub gets its first viewer and closed with the
 * last. It reads as fast as the log grows; the hub never makes it wait.
 */
export class LogFeed implements LiveFeed {
  private abort: AbortController | undefined;
  private done: Promise<void> = Promise.resolve();
  private opened = 0;

  constructor(
    private readonly log: EventLog,
    private readonly logger: Logger,
  ) {}

  start(sink: FeedSink): void {
    const abort = new AbortController();
    this.abort = abort;
    // A restart waits for the previous cursor to close, so two never overlap.
    this.done = this.done
      .then(() => this.follow(sink, abort.signal))
      .catch((err: unknown) => {
        this.logger.error({ err }, 'live feed stopped reading the log');
      });
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.done;
  }

  private async follow(sink: FeedSink, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const cursor = await this.log.cursor(`live-${process.pid}-${++this.opened}`, { ephemeral: true });
    try {
      sink.ready();
      while (!signal.aborted) {
        // Take what is there at once; when nothing is, wait for the first event (not for a
        // full batch, which would hold a quiet stream back by up to WAIT_MS).
        let batch = await cursor.read(BATCH, 0, signal);
        if (batch.events.length === 0 && !signal.aborted) batch = await cursor.read(1, WAIT_MS, signal);
        if (batch.events.length > 0 && !signal.aborted) sink.events(batch.events);
      }
    } finally {
      await cursor.close();
    }
  }
}
