import { Backoff } from '../retry/backoff.js';
import { PayloadDecoder, type PayloadFormat } from './decodePayload.js';
import type { Emit, Source, SourceContext } from './source.js';

/**
 * The one step every queue source shares: messages in, events durable, then the source may
 * ack. The order is what makes it safe:
 *
 * 1. decode every message of the batch (never throws);
 * 2. `emit` all their events in one call; when it rejects (log full, closing) nothing is
 *    dead-lettered and `take` answers false: the source must not ack, and should wait
 *    `retryDelay()` before taking more;
 * 3. dead-letter what can never become events with the reason: a message that holds nothing
 *    valid as one entry, each bad item or line of a mixed message as its own entry;
 * 4. answer true: every message may now be acked.
 *
 * A message redelivered after a crash between 2 and 4 is emitted again (at-least-once).
 */
export class QueueIntake {
  private readonly decoder: PayloadDecoder;
  private readonly backoff = new Backoff(100, 5_000);

  constructor(
    private readonly context: SourceContext,
    format: PayloadFormat,
  ) {
    this.decoder = new PayloadDecoder(context.name, format, context.limits, Date.now, context.marks);
  }

  async take(messages: readonly (Buffer | string)[], emit: Emit): Promise<boolean> {
    const bodyLimit = this.context.limits.bodyBytes;
    const decoded = messages.map((payload) =>
      Buffer.byteLength(payload) > bodyLimit
        ? {
            payload,
            events: [],
            rejected: [
              {
                index: 0,
                code: 'BEACON_E_BODY_TOO_LARGE' as const,
                message: `message of ${Buffer.byteLength(payload)} bytes is over server.limits.bodyBytes (${bodyLimit})`,
              },
            ],
          }
        : { payload, ...this.decoder.decode(payload) },
    );
    const events = decoded.flatMap((d) => d.events);
    this.context.metrics.eventsReceived.inc(
      { source: this.context.name },
      events.length + decoded.reduce((n, d) => n + d.rejected.length, 0),
    );
    if (events.length > 0) {
      try {
        await emit(events);
      } catch (err) {
        this.context.logger.warn(
          { source: this.context.name, err: (err as Error).message, messages: messages.length },
          'the log refused the events; the messages are not acknowledged',
        );
        return false;
      }
    }
    for (const { payload, events: good, rejected } of decoded) {
      if (rejected.length === 0) continue;
      // As docs/sources.md promises: a wholly bad message is one entry; in a mixed one each bad part is its own entry.
      const parts = good.length === 0 ? undefined : splitParts(payload.toString());
      for (const r of rejected) {
        const whole = good.length === 0 && rejected.length === 1;
        await this.context.deadLetter(
          parts?.[r.index] ?? payload,
          r.code,
          whole ? r.message : `part ${r.index} of the message: ${r.message}`,
        );
      }
    }
    this.backoff.reset();
    return true;
  }

  /** How long to wait after `take` answered false; grows while the log keeps refusing. */
  retryDelay(): number {
    return this.backoff.next();
  }
}

/**
 * The parts of a message as the decoder numbers them (array items, or non-empty lines), so a
 * dead-letter entry holds only the bad part; undefined for a single part.
 */
export function splitParts(text: string): string[] | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const items = JSON.parse(trimmed) as unknown;
      return Array.isArray(items) ? items.map((item) => JSON.stringify(item)) : undefined;
    } catch {
      return undefined;
    }
  }
  const lines = trimmed.split('\n').filter((l) => l.trim() !== '');
  return lines.length > 1 ? lines : undefined;
}

/**
 * The head the queue sources share (./mqtt, ./nats, ./redis): the source is named by its
 * context and takes its messages through one QueueIntake in its config's `format`.
 */
export abstract class QueueSource<C extends { format: PayloadFormat }> implements Source {
  readonly name: string;
  protected readonly intake: QueueIntake;

  constructor(
    protected readonly config: C,
    protected readonly context: SourceContext,
  ) {
    this.name = context.name;
    this.intake = new QueueIntake(context, config.format);
  }

  abstract start(emit: Emit): Promise<void>;
  abstract stop(): Promise<void>;
}
