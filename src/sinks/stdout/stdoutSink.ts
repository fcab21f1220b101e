import type { Writable } from 'node:stream';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { encodeLines, getCodec } from '../../event/codecs/registry.js';
import { SinkError, type Sink } from '../sink.js';
import type { BaseSinkConfig } from '../sinkConfig.js';

/** Writes each event as one encoded line to a stream (process.stdout by default). */
export class StdoutSink implements Sink {
  private readonly codec;

  constructor(
    config: BaseSinkConfig,
    private readonly out: Writable = process.stdout,
  ) {
    this.codec = getCodec(config.codec);
  }

  async open(): Promise<void> {}

  deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const payload = encodeLines(this.codec, batch);
    // The write callback fires once the chunk is handed to the OS (or buffered and flushed),
    // which is as far as a pipe can acknowledge.
    return new Promise((resolve, reject) => {
      this.out.write(payload, (err) => {
        if (err)
          reject(
            new SinkError('retry', `writing to stdout failed: ${err.message}`, { errorType: 'write', cause: err }),
          );
        else resolve();
      });
    });
  }

  async close(): Promise<void> {}
}
