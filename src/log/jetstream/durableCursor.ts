import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { BeaconError } from '../../errors/beaconError.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { Cursor, CursorLag, LogBatch, LogPosition, SeekTarget } from '../eventLog.js';
import { consumerInfo, ensureDurable, recreateDurable, startFor } from './consumers.js';
import { eventOf } from './eventMessage.js';
import type { JetStreamLogConfig } from './jetstreamConfig.js';
import { checkStreamPosition } from './positionRange.js';
import { PullSession, type Delivery } from './pullSession.js';

export interface DurableCursorDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  config: JetStreamLogConfig;
  logger: Logger;
  /** The durable consumer this cursor binds to (every process reading this sink binds to the same one). */
  consumer: string;
  /** A message on the subject that is not an event: acked (it can never be delivered) and counted. */
  onCorrupt: (streamSeq: number) => void;
  closed: (cursor: DurableCursor) => void;
}

interface Handed {
  delivery: Delivery;
  /** Running number of the events this cursor handed out; a position's `n` is the one after its batch. */
  index: number;
}

const ACK = '+ACK';
const NAK = '-NAK';
const IN_PROGRESS = '+WPI';
const LAG_REFRESH_MS = 1000;

/**
 * A cursor on a sink's durable JetStream consumer. Several processes may bind to the same
 * consumer: JetStream splits the messages between their pull requests, and a message one of
 * them does not ack within `ackWait` goes to another.
 *
 * - `read` hands out what the consumer delivers; the position it returns counts the events this
 *   cursor handed out (`n`) and names the stream sequence after the last (`seq`, informative and
 *   usable as a replay target).
 * - `commit(position)` acks every event this cursor handed out before that position: only
 *   delivered events are acked, so a crash re-delivers, never skips.
 * - While it holds messages (in its buffer, or handed out and not yet committed: a sink that
 *   retries a batch for minutes) it tells JetStream they are in progress every `ackWait / 4`,
 *   so they are not given to another process meanwhile. Once this process dies that stops, and
 *   they are redelivered after `ackWait`.
 * - `close` gives back (naks) what it holds, so another process gets it at once.
 * - Order: one reader gets messages in stream order (redeliveries aside); several readers of a
 *   consumer split it, so order across them is not kept.
 */
export class DurableCursor implements Cursor {
  private readonly session: PullSession;
  private handed: Handed[] = [];
  private nextIndex = 0;
  private isClosed = false;
  private readonly progress: NodeJS.Timeout;
  private lagValue: CursorLag = { events: 0, oldestTs: undefined };
  private lagAt = 0;
  private lagLoading = false;

  constructor(
    readonly name: string,
    private readonly deps: DurableCursorDeps,
  ) {
    this.session = new PullSession({
      nc: deps.nc,
      stream: deps.config.stream,
      consumer: () => deps.consumer,
      recover: (trouble) => this.recover(trouble),
    });
    const every = Math.max(100, Math.floor(deps.config.ackWait / 4));
    this.progress = setInterval(() => this.reportProgress(every), every);
    this.progress.unref();
  }

  async read(max: number, waitMs: number, signal?: AbortSignal): Promise<LogBatch> {
    if (this.isClosed) throw new BeaconError('BEACON_E_LOG_CLOSED', `cursor "${this.name}" is closed`);
    const deliveries = await this.session.take(max, waitMs, signal);
    const events: TrackedEvent[] = [];
    let lastSeq = 0;
    for (const delivery of deliveries) {
      const event = eventOf(delivery.msg);
      if (!event) {
        this.deps.onCorrupt(delivery.info.streamSeq);
        delivery.msg.respond(ACK);
        continue;
      }
      events.push(event);
      this.handed.push({ delivery, index: this.nextIndex++ });
      lastSeq = Math.max(lastSeq, delivery.info.streamSeq);
    }
    if (events.length === 0) return { events, position: { n: this.nextIndex } };
    this.lagAt = 0;
    return { events, position: { n: this.nextIndex, seq: lastSeq + 1 } };
  }

  commit(position: LogPosition): void {
    const upTo = position.n;
    if (typeof upTo !== 'number') return;
    let acked = 0;
    while (this.handed.length > 0 && this.handed[0]!.index < upTo) {
      this.handed.shift()!.delivery.msg.respond(ACK);
      acked++;
    }
    if (acked > 0) this.lagAt = 0;
  }

  /** Resolves once the server has every ack sent so far. */
  async flush(): Promise<void> {
    if (this.deps.nc.isClosed()) return;
    await this.deps.nc.flush();
  }

  async check(target: SeekTarget): Promise<void> {
    if (target.kind === 'position') await checkStreamPosition(this.deps.jsm, this.deps.config.stream, target.position);
  }

  async seek(target: SeekTarget): Promise<void> {
    await this.check(target);
    // What this process holds belongs to the consumer being replaced: its acks would go nowhere.
    this.session.drain();
    this.handed = [];
    await recreateDurable(this.deps.jsm, this.deps.config, this.deps.consumer, startFor(target));
    this.deps.logger.info(
      { consumer: this.deps.consumer, target },
      'moved the durable consumer of a sink for a replay',
    );
    this.lagAt = 0;
    await this.loadLag();
  }

  /** The sink's lag over every process reading it: not yet delivered plus delivered and not acked (refreshed about once a second). */
  lag(): CursorLag {
    if (Date.now() - this.lagAt > LAG_REFRESH_MS) void this.loadLag();
    let oldestTs: number | undefined;
    for (const d of [...this.handed.map((h) => h.delivery), ...this.session.buffered]) {
      oldestTs = oldestTs === undefined ? d.info.storedAtMs : Math.min(oldestTs, d.info.storedAtMs);
    }
    return { events: this.lagValue.events, oldestTs: this.lagValue.events > 0 ? oldestTs : undefined };
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.progress);
    const held = [...this.handed.map((h) => h.delivery), ...this.session.close()];
    this.handed = [];
    if (!this.deps.nc.isClosed()) {
      for (const d of held) d.msg.respond(NAK);
      await this.deps.nc.flush().catch(() => undefined);
    }
    this.deps.closed(this);
  }

  private reportProgress(every: number): void {
    if (this.deps.nc.isClosed()) return;
    const now = Date.now();
    for (const d of [...this.handed.map((h) => h.delivery), ...this.session.buffered]) {
      if (now - d.touchedAt < every * 2) continue;
      d.msg.respond(IN_PROGRESS);
      d.touchedAt = now;
    }
  }

  private async recover(trouble: string): Promise<void> {
    if (trouble === 'unavailable') return;
    // A silent or deleted consumer: create it again if it is gone (as a new sink's would be).
    await ensureDurable(this.deps.jsm, this.deps.config, this.deps.consumer, this.deps.logger);
  }

  private async loadLag(): Promise<void> {
    if (this.lagLoading || this.isClosed) return;
    this.lagLoading = true;
    try {
      const info = await consumerInfo(this.deps.jsm, this.deps.config.stream, this.deps.consumer);
      this.lagValue = { events: info ? info.num_pending + info.num_ack_pending : 0, oldestTs: undefined };
      this.lagAt = Date.now();
    } catch {
      // Unknown for now (NATS unreachable): keep the last value, try again at the next call.
    } finally {
      this.lagLoading = false;
    }
  }
}
