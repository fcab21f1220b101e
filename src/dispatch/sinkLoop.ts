import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DispatchConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Cursor, EventLog, LogBatch, SeekTarget } from '../log/eventLog.js';
import type { Clock } from '../ops/clock.js';
import type { Metrics } from '../ops/metrics.js';
import { SinkError, type Sink, type SinkFailureKind } from '../sinks/sink.js';
import type { BaseSinkConfig } from '../sinks/sinkConfig.js';
import { Backoff } from './backoff.js';
import { createEventFilter, type EventFilter } from './eventFilter.js';
import type { DeadLetterFile } from './deadLetter.js';
import { DispatchEvents } from './internalEvents.js';
import type { DeadLetterReplayResult, LogReplayResult, SinkState, SinkStatus } from './status.js';

export interface SinkLoopDeps {
  config: BaseSinkConfig;
  sink: Sink;
  log: EventLog;
  dispatch: DispatchConfig;
  deadLetter: DeadLetterFile;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  random: () => number;
}

/** How a delivery ended: done (delivered or dead-lettered), the sink went fatal, or we are stopping. */
type Outcome = 'ok' | 'fatal' | 'stopped';

/**
 * One sink's delivery loop: read a batch from its cursor, keep the events it wants (its
 * `types` and `badStream`), deliver, commit. Rules it keeps:
 * - A batch is committed only after every event in it is delivered or durably dead-lettered,
 *   so a crash or stop re-delivers, never skips (at-least-once).
 * - A failing sink holds exactly one batch and retries it forever (back-off capped at
 *   maxFailoverDuration); the rest waits in the log, not in memory.
 * - Nothing here is shared with another sink's loop, so one slow or dead sink never delays
 *   another.
 * - Replays run inside the loop (between batches), so the sink never sees two callers.
 */
export class SinkLoop {
  readonly name: string;
  private readonly config: BaseSinkConfig;
  private readonly sink: Sink;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly events: DispatchEvents;
  private readonly filter: EventFilter | undefined;

  private cursor: Cursor | undefined;
  private running: Promise<void> | undefined;
  private opened = false;
  private stopping = false;
  private shutDown = false;
  private readonly stopSignal = new AbortController();
  private readAbort = new AbortController();
  private reading: Promise<unknown> | undefined;
  private seekLock: Promise<void> | undefined;
  private seekEpoch = 0;
  private readonly tasks: { run: () => Promise<void>; cancel: (err: Error) => void }[] = [];

  private state: SinkState = 'idle';
  private since: number;
  private delivered = 0;
  private deadLettered = 0;
  private errors = 0;
  private lastError: { message: string; kind: SinkFailureKind; at: number } | undefined;
  private nextAttemptAt: number | undefined;

  constructor(private readonly deps: SinkLoopDeps) {
    this.config = deps.config;
    this.name = deps.config.name;
    this.sink = deps.sink;
    this.clock = deps.clock;
    this.since = deps.clock.now();
    const maxFailover = deps.config.maxFailoverDuration ?? deps.dispatch.maxFailoverDuration;
    this.backoff = new Backoff(Math.min(deps.dispatch.initialBackoff, maxFailover), maxFailover, deps.random);
    this.events = new DispatchEvents(this.name, deps.logger, deps.metrics, deps.dispatch.logEvery);
    this.filter = createEventFilter(deps.config);
    this.events.state(this.state);
  }

  /**
   * Opens the cursor, then runs the loop in the background. `from: 'end'` (a sink added while
   * running) first moves a new cursor to the end of the log, so the sink takes the events that
   * become durable from now on.
   */
  async start(options: { from?: 'committed' | 'end' } = {}): Promise<void> {
    this.cursor ??= await this.deps.log.cursor(this.name);
    if (options.from === 'end') {
      await this.cursor.seek({ kind: 'end' });
      await this.cursor.flush();
    }
    // A loop that replaces one of the same name (a changed sink) says its own state.
    this.events.state(this.state);
    this.updateLag();
    this.running = this.run().catch((err: unknown) => {
      const e = new SinkError('fatal', `delivery loop crashed: ${(err as Error).message}`, { errorType: 'internal', cause: err });
      this.recordError(e, 'deliver');
      this.becomeFatal(e);
    });
  }

  status(): SinkStatus {
    const lag = this.currentLag();
    const status: SinkStatus = {
      name: this.name,
      type: this.config.type,
      state: this.state,
      since: iso(this.since),
      lagEvents: lag.events,
      lagSeconds: lag.seconds,
      delivered: this.delivered,
      deadLettered: this.deadLettered,
      errors: this.errors,
    };
    if (this.lastError) status.lastError = { message: this.lastError.message, kind: this.lastError.kind, at: iso(this.lastError.at) };
    if (this.nextAttemptAt !== undefined) status.nextAttemptAt = iso(this.nextAttemptAt);
    return status;
  }

  /** Stop reading and stop backing off; an in-flight `deliver` is left to finish. */
  requestStop(): void {
    this.stopping = true;
    this.stopSignal.abort();
    this.readAbort.abort();
  }

  async stopped(): Promise<void> {
    await this.running;
  }

  /** The sink was removed while running: its state and lag series leave /metrics (they would read as a stuck sink). */
  forgetSeries(): void {
    this.events.forget();
  }

  /** After the loop ended (or the deadline passed): persist the cursor and close the sink. */
  async shutdown(): Promise<void> {
    this.shutDown = true;
    this.cancelTasks();
    if (this.cursor) {
      await this.cursor.flush().catch((err: unknown) => this.deps.logger.error({ sink: this.name, err }, 'flushing cursor failed'));
      await this.cursor.close().catch(() => {});
    }
    if (this.opened) await this.closeSink();
    if (this.state !== 'fatal') this.setState('stopped');
  }

  /**
   * Re-delivers this sink's dead letter through the normal path: back-off on failures, and
   * events rejected again go back to the dead letter.
   */
  async replayDeadLetters(): Promise<DeadLetterReplayResult> {
    if (!this.running || this.stopping || this.state === 'fatal') {
      throw new BeaconError('BEACON_E_REPLAY', `sink "${this.name}" is ${this.stopping ? 'stopped' : this.state === 'fatal' ? 'fatal' : 'not started'}; dead letters are replayed through a running sink`, { sink: this.name });
    }
    return this.exclusive(async () => {
      const { entries, unreadable } = await this.deps.deadLetter.beginReplay();
      const deadLetteredBefore = this.deadLettered;
      const step = this.config.batch.maxEvents;
      for (let i = 0; i < entries.length; i += step) {
        const outcome = await this.deliverAll(entries.slice(i, i + step).map((e) => e.event));
        if (outcome !== 'ok') {
          await this.deps.deadLetter.endReplay(entries.slice(i));
          throw new BeaconError('BEACON_E_REPLAY', `replay of "${this.name}" stopped after ${i} of ${entries.length} entries because the sink is ${outcome === 'fatal' ? 'fatal' : 'stopping'}; the rest wait in ${this.deps.deadLetter.replayPath}`, { sink: this.name });
        }
      }
      await this.deps.deadLetter.endReplay([]);
      const again = this.deadLettered - deadLetteredBefore;
      return { sink: this.name, replayed: entries.length, delivered: entries.length - again, deadLettered: again, unreadable };
    });
  }

  /** Moves the cursor (read and committed position); a batch in flight is then not committed. */
  async seek(target: SeekTarget): Promise<LogReplayResult> {
    const cursor = (this.cursor ??= await this.deps.log.cursor(this.name));
    const previous = this.seekLock;
    let release!: () => void;
    const lock = new Promise<void>((resolve) => (release = resolve));
    this.seekLock = lock;
    this.seekEpoch++;
    this.readAbort.abort();
    try {
      await previous;
      await this.reading;
      await cursor.seek(target);
      await cursor.flush();
    } finally {
      if (this.seekLock === lock) this.seekLock = undefined;
      release();
    }
    this.updateLag();
    this.deps.logger.info({ event: 'sink_seek', sink: this.name, target, pending: cursor.lag().events }, 'sink cursor moved for replay');
    return { sink: this.name, pending: cursor.lag().events };
  }

  private async run(): Promise<void> {
    const cursor = this.cursor!;
    if ((await this.ensureOpen()) === 'ok') {
      while (!this.stopping) {
        if (await this.runTasks()) continue;
        while (this.seekLock) await this.seekLock;
        if (this.stopping) break;
        this.setState('idle');
        const abort = new AbortController();
        this.readAbort = abort;
        if (this.tasks.length > 0 || this.seekLock) continue;
        const epoch = this.seekEpoch;
        let batch: LogBatch;
        try {
          const read = cursor.read(this.config.batch.maxEvents, this.config.batch.maxWaitMs, abort.signal);
          this.reading = read.catch(() => undefined);
          batch = await read;
        } catch (err) {
          if (this.stopping) break;
          const e = new SinkError('retry', `reading the log failed: ${(err as Error).message}`, { errorType: 'log_read', cause: err });
          this.recordError(e, 'deliver');
          await this.sleepBackoff(e);
          continue;
        } finally {
          this.reading = undefined;
        }
        if (this.stopping || epoch !== this.seekEpoch) continue;
        if (batch.events.length === 0) {
          this.updateLag();
          // An empty read with maxWaitMs 0 must not starve the event loop.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        const wanted = this.selectWanted(batch.events);
        const outcome = wanted.length > 0 ? await this.deliverAll(wanted) : 'ok';
        if (outcome !== 'ok') break;
        if (epoch === this.seekEpoch && !this.shutDown) cursor.commit(batch.position);
        this.updateLag();
      }
    }
    this.cancelTasks();
    if (this.state !== 'fatal') this.setState('stopped');
  }

  /** The batch's events this sink takes; the rest are counted here and committed with the batch. */
  private selectWanted(events: readonly TrackedEvent[]): readonly TrackedEvent[] {
    if (!this.filter) return events;
    const { wanted, skippedByType, skippedByBadStream } = this.filter.select(events);
    if (skippedByType > 0) this.events.skipped(skippedByType, 'type');
    if (skippedByBadStream > 0) this.events.skipped(skippedByBadStream, 'bad_stream');
    return wanted;
  }

  private async ensureOpen(): Promise<Outcome> {
    while (!this.opened) {
      if (this.stopping) return 'stopped';
      this.setState('delivering');
      try {
        await this.sink.open();
        this.opened = true;
      } catch (err) {
        const e = toSinkError(err);
        this.recordError(e, 'open');
        if (e.kind === 'fatal') return this.becomeFatal(e);
        if (!(await this.sleepBackoff(e))) return 'stopped';
      }
    }
    return 'ok';
  }

  /** Delivers `events` or dead-letters the ones the sink rejects; retries everything else. */
  private async deliverAll(events: readonly TrackedEvent[]): Promise<Outcome> {
    for (;;) {
      const opened = await this.ensureOpen();
      if (opened !== 'ok') return opened;
      this.setState('delivering');
      const started = performance.now();
      try {
        await this.sink.deliver(events);
      } catch (err) {
        const e = toSinkError(err);
        this.recordError(e, 'deliver');
        if (e.kind === 'fatal') return this.becomeFatal(e);
        if (e.kind === 'reject') return this.handleReject(events, e, (performance.now() - started) / 1000);
        if (e.kind === 'reconnect') await this.closeSink();
        if (!(await this.sleepBackoff(e))) return 'stopped';
        continue;
      }
      this.recordDelivered(events, (performance.now() - started) / 1000);
      return 'ok';
    }
  }

  /** Dead-letters the events the sink named, or splits the batch in two until single events remain. */
  private async handleReject(events: readonly TrackedEvent[], e: SinkError, seconds: number): Promise<Outcome> {
    const named = new Map<number, string>();
    for (const r of e.rejected ?? []) {
      if (Number.isInteger(r.index) && r.index >= 0 && r.index < events.length) named.set(r.index, r.reason);
    }
    if (named.size > 0) {
      const rejected = [...named].map(([index, reason]) => ({ event: events[index]!, reason, errorType: e.errorType }));
      const written = await this.writeDeadLetters(rejected);
      if (written !== 'ok') return written;
      const accepted = events.filter((_, i) => !named.has(i));
      if (accepted.length > 0) this.recordDelivered(accepted, seconds);
      return 'ok';
    }
    if (events.length === 1) return this.writeDeadLetters([{ event: events[0]!, reason: e.message, errorType: e.errorType }]);
    const middle = Math.ceil(events.length / 2);
    const first = await this.deliverAll(events.slice(0, middle));
    if (first !== 'ok') return first;
    return this.deliverAll(events.slice(middle));
  }

  private async writeDeadLetters(entries: { event: TrackedEvent; reason: string; errorType: string }[]): Promise<Outcome> {
    for (;;) {
      try {
        await this.deps.deadLetter.append(entries, this.clock.now());
        break;
      } catch (err) {
        const e = new SinkError('retry', `writing the dead letter ${this.deps.deadLetter.path} failed: ${(err as Error).message}`, { errorType: 'dead_letter_io', cause: err });
        this.recordError(e, 'deliver');
        if (!(await this.sleepBackoff(e))) return 'stopped';
      }
    }
    this.deadLettered += entries.length;
    const byType = new Map<string, { count: number; reason: string }>();
    for (const entry of entries) {
      const seen = byType.get(entry.errorType);
      byType.set(entry.errorType, { count: (seen?.count ?? 0) + 1, reason: seen?.reason ?? entry.reason });
    }
    for (const [errorType, { count, reason }] of byType) this.events.deadLettered(count, errorType, reason);
    this.backoff.reset();
    return 'ok';
  }

  private recordDelivered(events: readonly TrackedEvent[], seconds: number): void {
    if (this.backoff.attempts > 0) this.events.recovered(this.backoff.attempts);
    this.backoff.reset();
    this.delivered += events.length;
    this.events.delivered(events.length, this.delivered, seconds, events.map((e) => e.ts), this.clock.now());
  }

  private recordError(e: SinkError, stage: 'open' | 'deliver'): void {
    this.errors++;
    this.lastError = { message: e.message, kind: e.kind, at: this.clock.now() };
    this.events.error(e, stage);
  }

  private becomeFatal(e: SinkError): 'fatal' {
    this.setState('fatal');
    this.events.fatal(e);
    return 'fatal';
  }

  /** Waits out the back-off; false when the dispatcher is stopping. */
  private async sleepBackoff(e: SinkError): Promise<boolean> {
    if (this.stopping) return false;
    const delay = this.backoff.next(e.retryAfterMs);
    this.nextAttemptAt = this.clock.now() + delay;
    this.setState('backing_off');
    this.events.backoff(delay, this.backoff.attempts);
    await this.clock.sleep(delay, this.stopSignal.signal);
    this.nextAttemptAt = undefined;
    return !this.stopping;
  }

  private async closeSink(): Promise<void> {
    this.opened = false;
    try {
      await this.sink.close();
    } catch (err) {
      this.deps.logger.warn({ sink: this.name, err }, 'closing sink failed');
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.tasks.push({ run: () => fn().then(resolve, reject), cancel: reject });
      this.readAbort.abort();
    });
  }

  private async runTasks(): Promise<boolean> {
    if (this.tasks.length === 0) return false;
    while (this.tasks.length > 0 && !this.stopping) await this.tasks.shift()!.run();
    return true;
  }

  private cancelTasks(): void {
    for (const task of this.tasks.splice(0)) {
      task.cancel(new BeaconError('BEACON_E_REPLAY', `sink "${this.name}" stopped before the replay ran`, { sink: this.name }));
    }
  }

  private setState(state: SinkState): void {
    if (state === this.state) return;
    this.state = state;
    this.since = this.clock.now();
    this.events.state(state);
  }

  private currentLag(): { events: number; seconds: number } {
    if (!this.cursor) return { events: 0, seconds: 0 };
    const lag = this.cursor.lag();
    const seconds = lag.oldestTs === undefined ? 0 : Math.max(0, this.clock.now() - lag.oldestTs) / 1000;
    return { events: lag.events, seconds };
  }

  private updateLag(): void {
    const lag = this.currentLag();
    this.events.lag(lag.events, lag.seconds);
  }
}

/** Errors that are not SinkErrors are bugs or surprises: retried, so nothing is dropped. */
function toSinkError(err: unknown): SinkError {
  if (err instanceof SinkError) return err;
  return new SinkError('retry', (err as Error | undefined)?.message ?? String(err), { errorType: 'unexpected', cause: err });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
