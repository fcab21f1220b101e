import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { BeaconError, isBeaconError } from '../../errors/beaconError.js';
import { jsonText } from '../../event/codecs/json.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { Cursor, CursorOptions, EventLog, LogUsage } from '../eventLog.js';
import { consumerNameFor } from './consumerName.js';
import { ensureDurable, foreignDurables } from './consumers.js';
import { DurableCursor } from './durableCursor.js';
import { EphemeralCursor } from './ephemeralCursor.js';
import type { JetStreamLogConfig } from './jetstreamConfig.js';
import { connectToLog } from './natsConnection.js';
import { classifyPublishError } from './publishErrors.js';
import { ensureStream, retryUntil } from './streamSetup.js';

export interface JetStreamLogOptions {
  config: JetStreamLogConfig;
  logger: Logger;
  /**
   * Cursors (sink names) whose durable consumers must exist before the first append. The stream
   * keeps a message only while some consumer still needs it (interest retention), so an event
   * appended while a sink had no consumer yet would never reach that sink: every process
   * (collector or dispatcher) makes sure they all exist at open.
   */
  cursorNames: readonly string[];
  /** How this process shows in NATS monitoring, e.g. `beacon-collector`. */
  connectionName?: string;
  /** A message on the subject that is not an event (acked and skipped). */
  onCorrupt?: () => void;
  /** How often `usage()` is refreshed from the stream's info. */
  usageRefreshMs?: number;
}

/**
 * `log.type: jetstream`: the EventLog on one NATS JetStream stream (README.md in this folder has
 * the promises and how each maps onto JetStream).
 */
export class JetStreamLog implements EventLog {
  private readonly cursors = new Set<Cursor>();
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;
  private usageValue: LogUsage;
  private usageAt = Date.now();
  private refreshing: Promise<void> | undefined;
  private readonly usageTimer: NodeJS.Timeout;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly options: JetStreamLogOptions,
    info: StreamInfo,
  ) {
    this.usageValue = usageOf(info.state, options.config.maxBytes);
    this.usageTimer = setInterval(() => void this.refreshUsage(), options.usageRefreshMs ?? 2000);
    this.usageTimer.unref();
  }

  static async open(options: JetStreamLogOptions): Promise<JetStreamLog> {
    const { config, logger } = options;
    const deadline = Date.now() + config.connectTimeout;
    const nc = await connectToLog(config, logger, options.connectionName ?? 'beacon');
    try {
      const jsm = await retryUntil(deadline, 'reach JetStream', () =>
        jetstreamManager(nc, { timeout: config.publishTimeout }),
      );
      const info = await ensureStream(jsm, config, logger, deadline);
      const names = new Set(options.cursorNames.map(consumerNameFor));
      for (const name of names)
        await retryUntil(deadline, `set up the consumer "${name}"`, () => ensureDurable(jsm, config, name, logger));
      await warnForeignConsumers(jsm, config, names, logger);
      const js = jetstream(nc, { timeout: config.publishTimeout });
      return new JetStreamLog(nc, jsm, js, options, info);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Publishes every event (all in flight at once) and resolves once JetStream acked each one:
   * stored on the stream's quorum of replicas. A publish that fails for a passing reason (no
   * ack in time, a leader election, a reconnect) is sent again with the same message id until
   * `appendTimeout`, so JetStream stores it once however often it was sent.
   */
  append(events: readonly TrackedEvent[]): Promise<void> {
    if (this.closing)
      return Promise.reject(
        new BeaconError('BEACON_E_LOG_CLOSED', 'the log is closing; retry against another collector'),
      );
    if (events.length === 0) return Promise.resolve();
    const work = this.publishAll(events);
    this.inFlight.add(work);
    const forget = () => this.inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  async cursor(name: string, options?: CursorOptions): Promise<Cursor> {
    if (this.closing) throw new BeaconError('BEACON_E_LOG_CLOSED', 'the log is closing');
    const deps = { nc: this.nc, jsm: this.jsm, config: this.options.config };
    let cursor: Cursor;
    if (options?.ephemeral) {
      cursor = await EphemeralCursor.open(name, { ...deps, closed: (c) => this.cursors.delete(c) });
    } else {
      const consumer = consumerNameFor(name);
      const deadline = Date.now() + this.options.config.connectTimeout;
      await retryUntil(deadline, `set up the consumer "${consumer}"`, () =>
        ensureDurable(this.jsm, this.options.config, consumer, this.options.logger),
      );
      cursor = new DurableCursor(name, {
        ...deps,
        logger: this.options.logger,
        consumer,
        onCorrupt: (streamSeq) => {
          this.options.logger.warn(
            { stream: this.options.config.stream, streamSeq, sink: name },
            'a message on the log subject is not a Beacon event; skipped',
          );
          this.options.onCorrupt?.();
        },
        closed: (c) => this.cursors.delete(c),
      });
    }
    this.cursors.add(cursor);
    return cursor;
  }

  /** Bytes in the stream against `maxBytes`, from its info (refreshed every couple of seconds). */
  usage(): LogUsage {
    return this.usageValue;
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.usageTimer);
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled([...this.cursors].map((c) => c.close()));
    if (!this.nc.isClosed()) {
      await this.nc.flush().catch(() => undefined);
      await this.nc.close();
    }
  }

  private async publishAll(events: readonly TrackedEvent[]): Promise<void> {
    await this.checkRoom();
    const deadline = Date.now() + this.options.config.appendTimeout;
    const results = await Promise.allSettled(events.map((e) => this.publishOne(e, deadline)));
    let worst: BeaconError | undefined;
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      const err = isBeaconError(r.reason)
        ? r.reason
        : new BeaconError('BEACON_E_LOG_UNAVAILABLE', (r.reason as Error)?.message ?? String(r.reason));
      if (!worst || rank(err) > rank(worst)) worst = err;
    }
    if (worst) throw worst;
  }

  /**
   * Refuses the append (BEACON_E_LOG_FULL) when the stream holds `log.maxBytes` already: Beacon
   * keeps this limit itself, below the stream's own (see `streamMaxBytes`). Near the limit the
   * stream's byte count is read again before each append (at most every 100 ms, shared by the
   * appends waiting for it), so the check trails the truth by one round trip.
   */
  private async checkRoom(): Promise<void> {
    const age = Date.now() - this.usageAt;
    if ((this.usageValue.ratio > 0.8 && age > 100) || age > 5000) await this.refreshUsage();
    if (this.usageValue.bytes >= this.usageValue.maxBytes) throw this.fullError();
  }

  private fullError(): BeaconError {
    const { config } = this.options;
    return new BeaconError(
      'BEACON_E_LOG_FULL',
      `the log is full (JetStream stream "${config.stream}" holds log.maxBytes, ${config.maxBytes} bytes): a sink is behind; retry after ${config.retryAfterSeconds} s`,
      {
        retryAfterSeconds: config.retryAfterSeconds,
        bytes: this.usageValue.bytes,
      },
    );
  }

  private async publishOne(event: TrackedEvent, deadline: number): Promise<void> {
    const { config, logger } = this.options;
    const payload = jsonText(event);
    const msgID = messageIdOf(event);
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      try {
        await this.js.publish(config.subject, payload, {
          msgID,
          expect: { streamName: config.stream },
          timeout: Math.max(100, Math.min(config.publishTimeout, left)),
        });
        // Counted until the next refresh, so this process's own appends bring that refresh on in time.
        this.usageValue = usageOf(
          { bytes: this.usageValue.bytes + payload.length + RECORD_OVERHEAD_BYTES },
          config.maxBytes,
        );
        return;
      } catch (err) {
        const kind = classifyPublishError(err);
        if (kind === 'full') {
          void this.refreshUsage();
          throw this.fullError();
        }
        if (kind === 'config') {
          throw new BeaconError(
            'BEACON_E_LOG_CONFIG',
            `JetStream refused the append to "${config.subject}": ${(err as Error).message}. Check that only the stream "${config.stream}" captures log.subject and that the NATS user may publish there`,
            { field: 'log.subject' },
            { cause: err },
          );
        }
        if (Date.now() + 50 >= deadline) {
          throw new BeaconError(
            'BEACON_E_LOG_UNAVAILABLE',
            `JetStream did not acknowledge the append within log.appendTimeout (${config.appendTimeout} ms, ${attempt + 1} attempts): ${(err as Error).message}; retry`,
            { attempts: attempt + 1 },
            { cause: err },
          );
        }
        if (attempt === 0)
          logger.debug({ err: (err as Error).message, id: event.id }, 'publish to the log failed; sending it again');
        await new Promise((r) =>
          setTimeout(r, Math.min(100 * 2 ** attempt, 1000, Math.max(0, deadline - Date.now() - 50))),
        );
      }
    }
  }

  /** Reads the stream's byte count; concurrent callers share one request. */
  private refreshUsage(): Promise<void> {
    if (this.nc.isClosed()) return Promise.resolve();
    this.refreshing ??= this.jsm.streams
      .info(this.options.config.stream)
      .then(
        (info) => {
          this.usageValue = usageOf(info.state, this.options.config.maxBytes);
          this.usageAt = Date.now();
        },
        () => undefined, // keep the last known figure while NATS is unreachable; the publish will say more
      )
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }
}

export function openJetStreamLog(options: JetStreamLogOptions): Promise<JetStreamLog> {
  return JetStreamLog.open(options);
}

/**
 * The message id JetStream de-duplicates on within `duplicateWindow`: the event id, so a publish
 * sent again, or the same client event reaching another collector, is stored once. An event
 * Beacon itself already flagged as a duplicate (`meta.duplicate`, enrich.duplicates.action:
 * flag) gets an id of its own, so it still reaches the sinks flagged, as with the local log.
 */
export function messageIdOf(event: TrackedEvent): string {
  const id = HEADER_SAFE_ID.test(event.id) ? event.id : `~${createHash('sha256').update(event.id).digest('hex')}`;
  return event.meta?.duplicate === true ? `${id}#dup-${nuid.next()}` : id;
}

/**
 * Client ids may hold any character, but a header value may not (a newline would end it): such
 * an id is sent as `~` + its SHA-256. Ids used as they are never start with `~`, so the two
 * kinds never meet, and two distinct events never share a message id (which would drop one).
 */
const HEADER_SAFE_ID = /^[!-}][!-~]*$/;

/** What a stored message adds to the stream's byte count besides its payload (subject, message id header, framing), roughly. */
const RECORD_OVERHEAD_BYTES = 100;

function usageOf(state: { bytes: number }, maxBytes: number): LogUsage {
  return { bytes: state.bytes, maxBytes, ratio: Math.min(1, state.bytes / maxBytes) };
}

/** Which error a request answers with when its events failed in several ways: full first (it carries Retry-After). */
function rank(err: BeaconError): number {
  return err.code === 'BEACON_E_LOG_FULL' ? 3 : err.code === 'BEACON_E_LOG_CONFIG' ? 2 : 1;
}

async function warnForeignConsumers(
  jsm: JetStreamManager,
  config: JetStreamLogConfig,
  expected: ReadonlySet<string>,
  logger: Logger,
): Promise<void> {
  try {
    for (const c of await foreignDurables(jsm, config.stream, expected)) {
      logger.warn(
        { stream: config.stream, consumer: c.name, pendingEvents: c.pending },
        `the log's stream has a durable consumer "${c.name}" that no configured sink uses; it keeps its ${c.pending} events in the stream until it acks them, and the log fills up. If that sink is gone, remove it: nats consumer rm ${config.stream} ${c.name}`,
      );
    }
  } catch {
    // Only a warning: not worth failing start-up over.
  }
}
