import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DispatchConfig } from '../config/schema.js';
import { BeaconError, isBeaconError } from '../errors/beaconError.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Cursor, EventLog, EventOrigin, LogBatch, SeekTarget } from '../log/eventLog.js';
import type { Clock } from '../ops/clock.js';
import type { Metrics } from '../ops/metrics.js';
import { SinkError, type Sink, type SinkFailureKind } from '../sinks/sink.js';
import type { BaseSinkConfig } from '../sinks/sinkConfig.js';
import { Backoff } from '../retry/backoff.js';
import { closeWithin, runAttempt } from './deadline.js';
import { createEventFilter, type EventFilter } from './eventFilter.js';
import type { DeadLetterFile } from './deadLetter.js';
import { InFlightWindow, type DeliveryOutcome } from './inFlightWindow.js';
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
type Outcome = DeliveryOutcome;

/** A read from the cursor under way, with the seek epoch it started in (a seek since then voids it). */
interface PendingRead {
  batch: Promise<LogBatch>;
  epoch: number;
}

/**
 * One sink's delivery loop: read a batch from its cursor, keep the events it wants (its
 * `types` and `badStream`), deliver, commit. Rules it keeps:
 * - A batch is committed only after every event in it is delivered or durably dead-lettered,
 *   so a crash or stop re-delivers, never skips (at-least-once).
 * - A failing sink holds one batch and retries it forever (back-off capped at
 *   maxFailoverDuration), plus at most the next batch read ahead; the rest waits in the log,
 *   not in memory.
 * - While a batch is being delivered, the next one is read and decoded (read-ahead), so the
 *   log's CRC checks and JSON.parse overlap the sink's round trip instead of following it.
 *   Commits still go in batch order: the read-ahead batch is committed only after its own
 *   delivery, which starts after the previous batch's commit.
 * - A sink whose type allows it (`batch.inFlight` above 1: http) has up to that many batches
 *   delivering at once, each with its own retries and dead-lettering, and the next one read
 *   meanwhile (`runWindow`). Commits still go in log order (InFlightWindow): a batch is
 *   committed once it and every batch before it are done, whichever finishes first. The sink
 *   is opened by one caller at a time, and a `reconnect` closes only the connection the failed
 *   attempt used, not one another batch has opened since.
 * - Nothing here is shared with another sink's loop, so one slow or dead sink never delays
 *   another.
 * - Work asked from outside (a seek, a dead-letter replay) is queued and runs between batches,
 *   one at a time: a replay waits out the deliveries under way, so the sink never sees the
 *   loop and the replay at once; a seek waits only for the read under way and voids the
 *   batches in flight.
 * - Deadlines (src/dispatch/deadline.ts): an attempt past the sink's `attemptMs` is abandoned
 *   as failed, a close past its `closeMs` is forced.
 */
export class SinkLoop {
  readonly name: string;
  private readonly config: BaseSinkConfig;
  private readonly sink: Sink;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly events: DispatchEvents;
  private readonly filter: EventFilter | undefined;
  /** How a timed-out attempt names the sink: `redis sink "out"`. */
  private readonly describe: string;

  private cursor: Cursor | undefined;
  private running: Promise<void> | undefined;
  private opened = false;
  private stopping = false;
  private shutDown = false;
  private readonly stopSignal = new AbortController();
  private readAbort = new AbortController();
  /** The read under way, if any (settles, never rejects). */
  private reading: Promise<unknown> | undefined;
  /** The loop's open-deliver-commit step under way, if any (settles, never rejects). */
  private delivering: Promise<unknown> | undefined;
  /** Batches most delivered at once: `batch.inFlight`. */
  private readonly inFlight: number;
  /** With `inFlight` above 1: the batches taken and not committed. */
  private window: InFlightWindow | undefined;
  /** The sink's `open` under way, shared by every batch that needs it. */
  private opening: Promise<Outcome> | undefined;
  /** A `close` under way: the next `open` waits for it. */
  private closing: Promise<void> | undefined;
  /** Counts successful opens, so a batch's `reconnect` closes only the connection its attempt used. */
  private connection = 0;
  /** Deliveries waiting out a back-off: while any does, the state stays `backing_off`. */
  private backingOff = 0;
  /**
   * Work asked of the loop from outside (seeks, dead-letter replays), run one at a time in the
   * order asked; the loop does not start a read or a delivery while any is queued.
   */
  private interruptions: Promise<void> = Promise.resolve();
  private interruptionsQueued = 0;
  /** Counts seeks: a batch read before the latest seek is dropped, and not committed if in flight. */
  private seekEpoch = 0;
  /** A seek happened since the last batch a positioned sink took: tell it (`BatchOrigins.replay`). */
  private replayPending = false;

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
    this.describe = `${deps.config.type} sink "${deps.config.name}"`;
    // The dispatcher refuses inFlight above 1 for a sink with deliverAt (oneAtATimeForPositions).
    this.inFlight = deps.config.batch.inFlight;
    this.events.state(this.state);
  }

  /**
   * Opens the cursor, then runs the loop in the background. `from: 'end'` (a sink added while
   * running) first moves a new cursor to the end of the log, so the sink takes the events that
   * become durable from now on.
   */
  async start(options: { from?: 'committed' | 'end' } = {}): Promise<void> {
    try {
      this.cursor ??= await this.openCursor();
    } catch (err) {
      if (!isBeaconError(err) || err.code !== 'BEACON_E_CURSOR_UNREADABLE') throw err;
      // Its stored position cannot be used: this sink stops and says why, the others run.
      const e = new SinkError('fatal', `${err.code}: ${err.message}`, { errorType: 'cursor_unreadable', cause: err });
      this.recordError(e, 'deliver');
      this.becomeFatal(e);
      return;
    }
    if (options.from === 'end') {
      await this.cursor.seek({ kind: 'end' });
      await this.cursor.flush();
    }
    // A loop that replaces one of the same name (a changed sink) says its own state.
    this.events.state(this.state);
    this.updateLag();
    this.running = this.run().catch((err: unknown) => {
      const e = new SinkError('fatal', `delivery loop crashed: ${(err as Error).message}`, {
        errorType: 'internal',
        cause: err,
      });
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
    if (this.lastError)
      status.lastError = { message: this.lastError.message, kind: this.lastError.kind, at: iso(this.lastError.at) };
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
    if (this.cursor && this.opened && this.sink.flushHeld && this.state !== 'fatal') {
      // A sink that gathers events (objects rolled by size or age) writes out what it holds,
      // so the cursor persisted below covers it.
      try {
        const position = await this.sink.flushHeld(true);
        if (position) this.cursor.commit(position);
      } catch (err) {
        this.deps.logger.error(
          { sink: this.name, err },
          'writing out held events at stop failed; they are delivered again at the next start',
        );
      }
    }
    if (this.cursor) {
      await this.cursor
        .flush()
        .catch((err: unknown) => this.deps.logger.error({ sink: this.name, err }, 'flushing cursor failed'));
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
      throw new BeaconError(
        'BEACON_E_REPLAY',
        `sink "${this.name}" is ${this.stopping ? 'stopped' : this.state === 'fatal' ? 'fatal' : 'not started'}; dead letters are replayed through a running sink`,
        { sink: this.name },
      );
    }
    return this.interrupt(async () => {
      // The sink never sees the loop and the replay at once: the loop's deliveries under way end first.
      await this.delivering;
      await this.window?.drained();
      if (this.stopping || this.shutDown || this.state === 'fatal') {
        throw new BeaconError('BEACON_E_REPLAY', `sink "${this.name}" stopped before the replay ran`, {
          sink: this.name,
        });
      }
      const { entries, unreadable } = await this.deps.deadLetter.beginReplay();
      const deadLetteredBefore = this.deadLettered;
      const step = this.config.batch.maxEvents;
      for (let i = 0; i < entries.length; i += step) {
        const outcome = await this.deliverAll(entries.slice(i, i + step).map((e) => e.event));
        if (outcome !== 'ok') {
          await this.deps.deadLetter.endReplay(entries.slice(i));
          throw new BeaconError(
            'BEACON_E_REPLAY',
            `replay of "${this.name}" stopped after ${i} of ${entries.length} entries because the sink is ${outcome === 'fatal' ? 'fatal' : 'stopping'}; the rest wait in ${this.deps.deadLetter.replayPath}`,
            { sink: this.name },
          );
        }
      }
      await this.deps.deadLetter.endReplay([]);
      const again = this.deadLettered - deadLetteredBefore;
      return {
        sink: this.name,
        replayed: entries.length,
        delivered: entries.length - again,
        deadLettered: again,
        unreadable,
      };
    });
  }

  /** Moves the cursor (read and committed position); a batch in flight is then not committed. */
  async seek(target: SeekTarget): Promise<LogReplayResult> {
    const cursor = (this.cursor ??= await this.openCursor());
    // A target outside the log is refused before the batch in flight is disturbed.
    await cursor.check?.(target);
    // From now on the batch in flight is not committed (its delivery is not waited for).
    this.seekEpoch++;
    await this.interrupt(async () => {
      await cursor.seek(target);
      await cursor.flush();
      this.replayPending = true;
    });
    this.updateLag();
    this.events.seek(target, cursor.lag().events);
    return { sink: this.name, pending: cursor.lag().events };
  }

  /**
   * The loop, step by step: (1) run the work asked from outside (seeks, replays); (2) read a
   * batch, or take the one read ahead; (3) drop it if a seek moved the cursor since it was
   * read; (4) deliver it (starting the next read when this one was full) and commit it.
   */
  private async run(): Promise<void> {
    const cursor = this.cursor!;
    if (this.inFlight > 1) return this.runWindow(cursor);
    let ahead: PendingRead | undefined;
    if ((await this.whileDelivering(this.ensureOpen())) === 'ok') {
      while (!this.stopping) {
        // 1. Work asked from outside runs between batches.
        await this.interruptionsDone();
        if (this.stopping) break;
        // 2. Read.
        if (!ahead) this.setState('idle');
        const pending = ahead ?? this.startRead(cursor);
        ahead = undefined;
        const batch = await this.readOrBackOff(pending);
        if (batch === undefined) {
          if (this.stopping || this.state === 'fatal') break;
          continue;
        }
        // Work asked during the read (which it cut short) runs before the batch is delivered.
        await this.interruptionsDone();
        // 3. A seek since the read: the batch is from the old position.
        if (this.stopping || pending.epoch !== this.seekEpoch) continue;
        // 4. Deliver and commit.
        const step = this.deliverBatch(cursor, batch, pending.epoch, () => (ahead = this.startRead(cursor)));
        if ((await this.whileDelivering(step)) !== 'ok') break;
      }
    }
    if (ahead) {
      // Its events are not committed: a restart delivers them again.
      this.readAbort.abort();
      await ahead.batch.catch(() => undefined);
    }
    if (this.state !== 'fatal') this.setState('stopped');
  }

  /**
   * The loop of a sink that takes several batches at once: (1) run the work asked from outside;
   * (2) read the next batch (while up to `inFlight` are delivered); (3) wait for room in the
   * window (a batch committed) and for work asked meanwhile; (4) drop the batch if a seek moved
   * the cursor since it was read, else start its delivery and go on without waiting for it.
   * The window commits each batch once every batch before it is done. At the end (stop, fatal)
   * the deliveries under way finish: a stop ends their back-off, a `deliver` call is left to
   * finish; what ended `ok` before the first batch that did not is committed, the rest is not.
   */
  private async runWindow(cursor: Cursor): Promise<void> {
    const window = new InFlightWindow(this.inFlight, () => {
      if (this.state === 'delivering') this.setState('idle');
    });
    this.window = window;
    let outcome = await this.whileDelivering(this.ensureOpen());
    while (outcome === 'ok' && !this.stopping) {
      // 1. Work asked from outside runs between batches.
      await this.interruptionsDone();
      if (this.stopping) break;
      // 2. Read.
      if (window.size === 0) this.setState('idle');
      const pending = this.startRead(cursor);
      const batch = await this.readOrBackOff(pending);
      if (batch === undefined) {
        if (this.stopping || this.state === 'fatal') break;
        continue;
      }
      // 3. Room for it; a replay asked meanwhile waits for the window to drain and runs first.
      do {
        await this.interruptionsDone();
        outcome = await window.room();
      } while (outcome === 'ok' && this.interruptionsQueued > 0);
      if (outcome !== 'ok' || this.stopping) break;
      // 4. A seek since the read: the batch is from the old position.
      if (pending.epoch !== this.seekEpoch) continue;
      if (batch.events.length === 0) {
        this.updateLag();
        // An empty read with maxWaitMs 0 must not starve the event loop.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const wanted = this.selectWanted(batch.events);
      const delivery = wanted.length > 0 ? this.deliverInWindow(wanted) : Promise.resolve<Outcome>('ok');
      const { epoch } = pending;
      window.add(delivery, () => {
        if (epoch === this.seekEpoch && !this.shutDown) cursor.commit(batch.position);
        this.updateLag();
      });
    }
    await window.drained();
    if (this.state !== 'fatal') this.setState('stopped');
  }

  /**
   * The batch `pending` reads, or undefined when the read failed: the failure is recorded and
   * backed off (unless the loop is stopping or fatal, which a failed read may only mean).
   */
  private async readOrBackOff(pending: PendingRead): Promise<LogBatch | undefined> {
    try {
      return await pending.batch;
    } catch (err) {
      if (this.stopping || this.state === 'fatal') return undefined;
      const e = new SinkError('retry', `reading the log failed: ${(err as Error).message}`, {
        errorType: 'log_read',
        cause: err,
      });
      this.recordError(e, 'deliver');
      await this.sleepBackoff(e);
      return undefined;
    } finally {
      this.reading = undefined;
    }
  }

  /** One batch of the window: a crash makes the sink fatal; an end other than `ok` cuts the read under way short. */
  private async deliverInWindow(events: readonly TrackedEvent[]): Promise<Outcome> {
    let outcome: Outcome;
    try {
      outcome = await this.deliverAll(events);
    } catch (err) {
      const e = new SinkError('fatal', `delivery loop crashed: ${(err as Error).message}`, {
        errorType: 'internal',
        cause: err,
      });
      this.recordError(e, 'deliver');
      outcome = this.becomeFatal(e);
    }
    if (outcome !== 'ok') this.readAbort.abort();
    return outcome;
  }

  /** Step 4: delivers the batch read in `epoch` and commits it, unless a seek happened meanwhile. */
  private async deliverBatch(cursor: Cursor, batch: LogBatch, epoch: number, readAhead: () => void): Promise<Outcome> {
    if (batch.origins && this.sink.deliverAt) {
      const outcome = await this.deliverAtPositions(cursor, batch, batch.origins, epoch);
      if (outcome === 'ok') this.updateLag();
      return outcome;
    }
    if (batch.events.length === 0) {
      this.updateLag();
      // An empty read with maxWaitMs 0 must not starve the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      return 'ok';
    }
    // A full batch says more is waiting: read the next one while this one is delivered.
    // (After a short one the log is drained; reading ahead would only wait out maxWaitMs.)
    if (batch.events.length >= this.config.batch.maxEvents && this.interruptionsQueued === 0) readAhead();
    const wanted = this.selectWanted(batch.events);
    const outcome = wanted.length > 0 ? await this.deliverAll(wanted) : 'ok';
    if (outcome !== 'ok') return outcome;
    if (epoch === this.seekEpoch && !this.shutDown) cursor.commit(batch.position);
    this.updateLag();
    return 'ok';
  }

  /** Marks `step` as the loop's use of the sink, which a dead-letter replay waits out. */
  private async whileDelivering<T>(step: Promise<T>): Promise<T> {
    this.delivering = step.catch(() => undefined);
    try {
      return await step;
    } finally {
      this.delivering = undefined;
    }
  }

  /**
   * Queues `work` to run between batches: the read under way is cut short and waited for, and
   * the loop starts no read or delivery until the work is done. Works whether or not the loop
   * runs (a seek of a stopped sink).
   */
  private interrupt<T>(work: () => Promise<T>): Promise<T> {
    this.interruptionsQueued++;
    this.readAbort.abort();
    const run = this.interruptions.then(async () => {
      try {
        await this.reading;
        return await work();
      } finally {
        this.interruptionsQueued--;
      }
    });
    this.interruptions = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Waits until no work asked from outside is queued. */
  private async interruptionsDone(): Promise<void> {
    while (this.interruptionsQueued > 0) await this.interruptions;
  }

  /** Starts reading the next batch; `seek`, `requestStop` and replays abort it through `readAbort`. */
  private startRead(cursor: Cursor): PendingRead {
    const abort = new AbortController();
    this.readAbort = abort;
    const batch = cursor.read(this.config.batch.maxEvents, this.config.batch.maxWaitMs, abort.signal);
    this.reading = batch.catch(() => undefined);
    return { batch, epoch: this.seekEpoch };
  }

  /**
   * For a sink that ties its output to log positions: hands it the wanted events with their
   * origins (an empty read too, so a sink holding events can write out what is due by age)
   * and commits only the position it reports written. Retried like `deliver`; such a sink
   * does not reject single events, so a `reject` is retried as well.
   */
  private async deliverAtPositions(
    cursor: Cursor,
    batch: LogBatch,
    origins: readonly EventOrigin[],
    epoch: number,
  ): Promise<Outcome> {
    if (batch.events.length === 0) {
      if (this.opened && this.sink.flushHeld) {
        try {
          const position = await this.sink.flushHeld(false);
          if (position && epoch === this.seekEpoch && !this.shutDown) cursor.commit(position);
        } catch (err) {
          return (await this.failedDelivery(err)) ?? 'ok';
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
      return 'ok';
    }
    const wanted = this.selectWanted(batch.events);
    const keep = wanted.length === batch.events.length ? undefined : new Set(wanted);
    const wantedOrigins = keep ? origins.filter((_, i) => keep.has(batch.events[i]!)) : origins;
    return this.deliverUntilDone(async (started) => {
      const at = this.replayPending
        ? { origins: wantedOrigins, end: batch.position, replay: true }
        : { origins: wantedOrigins, end: batch.position };
      const position = await runAttempt(this.sink, this.describe, (attempt) =>
        this.sink.deliverAt!(wanted, at, attempt),
      );
      this.replayPending = false;
      if (wanted.length > 0)
        this.recordDelivered(wanted, (performance.now() - started) / 1000, this.sink.flushHeld !== undefined);
      if (epoch === this.seekEpoch && !this.shutDown) cursor.commit(position);
    });
  }

  /** A sink that ties output to positions asks the log for each event's origin. */
  private openCursor(): Promise<Cursor> {
    return this.deps.log.cursor(this.name, this.sink.deliverAt ? { origins: true } : undefined);
  }

  /** The batch's events this sink takes; the rest are counted here and committed with the batch. */
  private selectWanted(events: readonly TrackedEvent[]): readonly TrackedEvent[] {
    if (!this.filter) return events;
    const { wanted, skippedByType, skippedByBadStream } = this.filter.select(events);
    if (skippedByType > 0) this.events.skipped(skippedByType, 'type');
    if (skippedByBadStream > 0) this.events.skipped(skippedByBadStream, 'bad_stream');
    return wanted;
  }

  /** Opens the sink unless it is; batches in flight at once share one `open` (and its back-off). */
  private ensureOpen(): Promise<Outcome> {
    if (this.opened) return Promise.resolve('ok');
    this.opening ??= this.openUntilDone().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async openUntilDone(): Promise<Outcome> {
    await this.closing;
    while (!this.opened) {
      if (this.stopping) return 'stopped';
      if (this.state === 'fatal') return 'fatal';
      this.setState('delivering');
      try {
        await this.sink.open();
        this.opened = true;
        this.connection++;
      } catch (err) {
        const e = toSinkError(err);
        this.recordError(e, 'open');
        if (e.kind === 'fatal') return this.becomeFatal(e);
        if (!(await this.sleepBackoff(e))) return this.haltedOutcome();
      }
    }
    // Another batch in flight may have made the sink fatal while this open ran.
    return this.isFatal() ? 'fatal' : 'ok';
  }

  /** Delivers `events` or dead-letters the ones the sink rejects; retries everything else. */
  private deliverAll(events: readonly TrackedEvent[]): Promise<Outcome> {
    return this.deliverUntilDone(
      async (started) => {
        await runAttempt(this.sink, this.describe, (attempt) => this.sink.deliver(events, attempt));
        this.recordDelivered(events, (performance.now() - started) / 1000);
      },
      (e, started) => this.handleReject(events, e, (performance.now() - started) / 1000),
    );
  }

  /**
   * Opens the sink when it is not, then makes delivery attempts (`attempt` gets the time it
   * started) until one succeeds or `failedDelivery` says how the loop ends.
   */
  private async deliverUntilDone(
    attempt: (started: number) => Promise<void>,
    onReject?: (e: SinkError, started: number) => Promise<Outcome>,
  ): Promise<Outcome> {
    for (;;) {
      // Another batch in flight made the sink fatal: this one stops too, uncommitted.
      if (this.state === 'fatal') return 'fatal';
      const opened = await this.ensureOpen();
      if (opened !== 'ok') return opened;
      if (this.isFatal()) return 'fatal';
      this.setState('delivering');
      const connection = this.connection;
      const started = performance.now();
      try {
        await attempt(started);
        return 'ok';
      } catch (err) {
        const ended = await this.failedDelivery(err, onReject && ((e) => onReject(e, started)), connection);
        if (ended) return ended;
      }
    }
  }

  /**
   * After a failed delivery attempt: the error is counted; `fatal` stops the sink, `reject`
   * goes to `onReject` when the caller dead-letters (else it is retried), `reconnect` closes
   * the sink first (unless another batch already replaced the connection the attempt used),
   * and the loop backs off. Undefined: try again; else how the loop ends.
   */
  private async failedDelivery(
    err: unknown,
    onReject?: (e: SinkError) => Promise<Outcome>,
    connection?: number,
  ): Promise<Outcome | undefined> {
    const e = toSinkError(err);
    this.recordError(e, 'deliver');
    if (e.kind === 'fatal') return this.becomeFatal(e);
    if (e.kind === 'reject' && onReject) return onReject(e);
    if (e.kind === 'reconnect' && (connection === undefined || (this.opened && connection === this.connection)))
      await this.closeSink();
    return (await this.sleepBackoff(e)) ? undefined : this.haltedOutcome();
  }

  /** Why waiting stopped early: the sink went fatal (another batch in flight), or the loop is stopping. */
  private haltedOutcome(): Outcome {
    return this.state === 'fatal' ? 'fatal' : 'stopped';
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
    if (events.length === 1)
      return this.writeDeadLetters([{ event: events[0]!, reason: e.message, errorType: e.errorType }]);
    const middle = Math.ceil(events.length / 2);
    const first = await this.deliverAll(events.slice(0, middle));
    if (first !== 'ok') return first;
    return this.deliverAll(events.slice(middle));
  }

  private async writeDeadLetters(
    entries: { event: TrackedEvent; reason: string; errorType: string }[],
  ): Promise<Outcome> {
    for (;;) {
      try {
        await this.deps.deadLetter.append(entries, this.clock.now());
        break;
      } catch (err) {
        const e = new SinkError(
          'retry',
          `writing the dead letter ${this.deps.deadLetter.path} failed: ${(err as Error).message}`,
          { errorType: 'dead_letter_io', cause: err },
        );
        this.recordError(e, 'deliver');
        if (!(await this.sleepBackoff(e))) return this.haltedOutcome();
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

  /**
   * `held`: the sink took the events into objects it writes later, so their receive-to-delivery
   * time is not known here (and a histogram observation per event cost the s3 sink ~0.4 µs).
   */
  private recordDelivered(events: readonly TrackedEvent[], seconds: number, held = false): void {
    if (this.backoff.attempts > 0) this.events.recovered(this.backoff.attempts);
    this.backoff.reset();
    this.delivered += events.length;
    this.events.delivered(
      events.length,
      this.delivered,
      seconds,
      held ? [] : events.map((e) => e.ts),
      this.clock.now(),
    );
  }

  private recordError(e: SinkError, stage: 'open' | 'deliver'): void {
    this.errors++;
    this.lastError = { message: e.message, kind: e.kind, at: this.clock.now() };
    this.events.error(e, stage);
  }

  private becomeFatal(e: SinkError): 'fatal' {
    this.setState('fatal');
    this.events.fatal(e);
    // Other batches in flight waiting out a back-off stop waiting (they end `fatal`).
    this.stopSignal.abort();
    return 'fatal';
  }

  /** Waits out the back-off; false when the dispatcher is stopping or the sink went fatal. */
  private async sleepBackoff(e: SinkError): Promise<boolean> {
    if (this.stopping || this.state === 'fatal') return false;
    const delay = this.backoff.next(e.retryAfterMs);
    this.nextAttemptAt = this.clock.now() + delay;
    this.setState('backing_off');
    this.events.backoff(delay, this.backoff.attempts);
    this.backingOff++;
    try {
      await this.clock.sleep(delay, this.stopSignal.signal);
    } finally {
      this.backingOff--;
    }
    if (this.backingOff === 0) this.nextAttemptAt = undefined;
    return !this.stopping && !this.isFatal();
  }

  /** A method, not a field test: TypeScript would keep `state` narrowed across the awaits that change it. */
  private isFatal(): boolean {
    return this.state === 'fatal';
  }

  private closeSink(): Promise<void> {
    this.opened = false;
    const closing = closeWithin(this.sink)
      .then(
        () => undefined,
        (err: unknown) => this.deps.logger.warn({ sink: this.name, err }, 'closing sink failed'),
      )
      .finally(() => {
        if (this.closing === closing) this.closing = undefined;
      });
    this.closing = closing;
    return closing;
  }

  private setState(state: SinkState): void {
    // Fatal stays: a batch in flight that opens or delivers after another batch made the sink
    // fatal must not hide it (its back-offs would no longer wait, and it would retry at once).
    if (state === this.state || this.state === 'fatal') return;
    // Another batch in flight waits out a back-off: the sink is failing, whatever this one does.
    if (state === 'delivering' && this.backingOff > 0) return;
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
  return new SinkError('retry', (err as Error | undefined)?.message ?? String(err), {
    errorType: 'unexpected',
    cause: err,
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
