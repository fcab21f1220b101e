import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { BeaconError } from '../../errors/beaconError.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { Cursor, CursorLag, LogBatch, SeekTarget } from '../eventLog.js';
import { createEphemeral, startFor, type ConsumerStart } from './consumers.js';
import { eventOf } from './eventMessage.js';
import type { JetStreamLogConfig } from './jetstreamConfig.js';
import { PullSession } from './pullSession.js';

export interface EphemeralCursorDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  config: JetStreamLogConfig;
  closed: (cursor: EphemeralCursor) => void;
}

/**
 * A cursor that is never persisted (`beacon tail`, the live stream): an ephemeral consumer
 * without acks that starts at the end. JetStream removes such a consumer once it has been unused
 * for a minute, and loses it with its one server; when that happens the cursor makes a new one
 * that starts after the last message it saw, so a viewer misses nothing that is still retained.
 */
export class EphemeralCursor implements Cursor {
  private consumer = '';
  private lastSeq = 0;
  private pending = 0;
  private isClosed = false;
  private readonly session: PullSession;

  private constructor(
    readonly name: string,
    private readonly deps: EphemeralCursorDeps,
  ) {
    this.session = new PullSession({
      nc: deps.nc,
      stream: deps.config.stream,
      consumer: () => this.consumer,
      recover: async (trouble) => {
        if (trouble !== 'unavailable')
          await this.replace(this.lastSeq > 0 ? { kind: 'seq', seq: this.lastSeq + 1 } : { kind: 'new' });
      },
    });
  }

  static async open(name: string, deps: EphemeralCursorDeps): Promise<EphemeralCursor> {
    const cursor = new EphemeralCursor(name, deps);
    cursor.consumer = await createEphemeral(deps.jsm, deps.config, { kind: 'new' });
    return cursor;
  }

  async read(max: number, waitMs: number, signal?: AbortSignal): Promise<LogBatch> {
    if (this.isClosed) throw new BeaconError('BEACON_E_LOG_CLOSED', `cursor "${this.name}" is closed`);
    const events: TrackedEvent[] = [];
    for (const delivery of await this.session.take(max, waitMs, signal)) {
      this.lastSeq = Math.max(this.lastSeq, delivery.info.streamSeq);
      this.pending = delivery.info.pending;
      const event = eventOf(delivery.msg);
      if (event) events.push(event);
    }
    return { events, position: { seq: this.lastSeq + 1 } };
  }

  commit(): void {
    // Never persisted: there is nothing to acknowledge.
  }

  async flush(): Promise<void> {}

  async seek(target: SeekTarget): Promise<void> {
    this.session.drain();
    await this.replace(startFor(target));
  }

  lag(): CursorLag {
    return { events: this.pending, oldestTs: undefined };
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.session.close();
    if (!this.deps.nc.isClosed())
      await this.deps.jsm.consumers.delete(this.deps.config.stream, this.consumer).catch(() => undefined);
    this.deps.closed(this);
  }

  private async replace(start: ConsumerStart): Promise<void> {
    const old = this.consumer;
    this.consumer = await createEphemeral(this.deps.jsm, this.deps.config, start);
    if (old) await this.deps.jsm.consumers.delete(this.deps.config.stream, old).catch(() => undefined);
  }
}
