import type { TrackedEvent } from '../trackedEvent.js';

/**
 * Turns events into bytes for a sink, one payload per event. Sinks that write a stream
 * (file, http NDJSON) join payloads with a newline; sinks that publish messages (brokers)
 * send each payload as one message.
 */
export interface Codec {
  readonly name: string;
  /** MIME type of one encoded event, for sinks that send a Content-Type. */
  readonly contentType: string;
  encode(event: TrackedEvent): Buffer;
  /**
   * Text codecs: what `encode` returns, as a string (its UTF-8 bytes are `encode`'s). Lets a
   * stream sink join a batch into one string and make one Buffer instead of one per event.
   */
  encodeText?(event: TrackedEvent): string;
  /** Parses a payload written by `encode` back into event-like objects (for sources and replay). */
  decode?(payload: Buffer): unknown[];
}

export interface CodecDefinition {
  readonly name: string;
  create(): Codec;
}
