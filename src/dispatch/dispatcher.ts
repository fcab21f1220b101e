import { z } from 'zod';
import type { Logger } from 'pino';
import type { DispatchConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import type { EventLog, SeekTarget } from '../log/eventLog.js';
import { systemClock, type Clock } from '../ops/clock.js';
import type { Metrics } from '../ops/metrics.js';
import type { SchemaSet } from '../schemas/schemaSet.js';
import { findSinkDefinition, type SinkConfig } from '../sinks/registry.js';
import type { Sink } from '../sinks/sink.js';
import {
  baseSinkFields,
  batchWithDefaults,
  DEFAULT_BATCH,
  MAX_IN_FLIGHT,
  type BaseSinkConfig,
} from '../sinks/sinkConfig.js';
import { DeadLetterFile } from './deadLetter.js';
import { SinkLoop } from './sinkLoop.js';
import { DISPATCH_EVENTS } from './internalEvents.js';
import type { DeadLetterReplayResult, LogReplayResult, SinkStatus } from './status.js';

/**
 * A sink to run: either a configured one, built from the registry with its config as the
 * config schema parsed it (names unique, defaults filled in; see parseSinkConfig for a config
 * that did not come through loadConfig), or a ready sink (tests, embedding, the embedded
 * store's `_store`) whose config holds at least its name and type; its other base fields
 * (batch, codec, badStream...) get their defaults here.
 */
export type DispatcherSink =
  | { config: SinkConfig; sink?: undefined }
  | { config: { name: string; type: string } & Record<string, unknown>; sink: Sink };

export interface DispatcherDeps {
  log: EventLog;
  sinks: readonly DispatcherSink[];
  dispatch: DispatchConfig;
  dataDir: string;
  logger: Logger;
  metrics: Metrics;
  clock?: Clock;
  /** Source of jitter for back-off, in [0, 1). */
  random?: () => number;
  /** The configured JSON Schemas, handed to sinks that use them (the lake's typed columns). */
  schemas?: SchemaSet | undefined;
}

/**
 * A ready sink's base fields. Its `batch.inFlight` may go above 1: the code that built the sink
 * vouches that its `deliver` may run several times at once (buildSink still refuses it for a
 * sink with `deliverAt`).
 */
const readySinkSchema = z.looseObject({
  type: z.string(),
  ...baseSinkFields,
  batch: batchWithDefaults(DEFAULT_BATCH, { default: 1, max: MAX_IN_FLIGHT }).prefault({}),
});

/**
 * Runs one independent delivery loop per sink (see sinkLoop.ts for the rules each keeps) and
 * answers `beacon status` and `beacon replay`.
 */
export class Dispatcher {
  private readonly loops = new Map<string, SinkLoop>();
  private readonly deps: DispatcherDeps;
  private readonly clock: Clock;
  private started = false;

  constructor(deps: DispatcherDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    // Names are unique: the config schema refuses a name used twice (namedPartsSchema).
    for (const entry of deps.sinks) {
      const loop = this.createLoop(entry);
      this.loops.set(loop.name, loop);
    }
  }

  /** Opens every sink's cursor and starts the loops; resolves once they run (sinks may still be connecting). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await Promise.all([...this.loops.values()].map((loop) => loop.start()));
    DISPATCH_EVENTS.dispatchStarted.emit(this.deps, { sinks: [...this.loops.keys()] });
  }

  /**
   * Stops reading, lets deliveries in flight finish for up to `deadlineMs`, then persists
   * every cursor and closes every sink. Events read but not delivered stay uncommitted and are
   * delivered after the next start.
   */
  async stop(deadlineMs: number): Promise<void> {
    await this.stopLoops([...this.loops.values()], deadlineMs);
    DISPATCH_EVENTS.dispatchStopped.emit(this.deps, {});
  }

  /**
   * Applies a changed list of sinks while every other sink keeps delivering (a config
   * reload). Every new sink is built first, so a sink the registry refuses changes nothing.
   * Then the removed and changed sinks stop as at shutdown (their batch in flight finishes
   * for up to `deadlineMs`, the cursor is persisted, the sink closed); a removed sink's cursor
   * stops holding the log's retention. Changed sinks start again with their new settings from
   * their committed cursor; added sinks start at the end of the log, so they take the events
   * that become durable from now on (older ones: `beacon replay`).
   */
  async applySinks(
    change: { add: readonly DispatcherSink[]; change: readonly DispatcherSink[]; remove: readonly string[] },
    deadlineMs: number,
  ): Promise<void> {
    for (const name of [...change.remove, ...change.change.map((e) => e.config.name)]) this.loop(name);
    for (const entry of change.add) {
      if (this.loops.has(entry.config.name))
        throw new BeaconError(
          'BEACON_E_CONFIG_FIELD',
          `sink name "${entry.config.name}" is already running; names must be unique`,
          { sink: entry.config.name },
        );
    }
    const added = change.add.map((entry) => this.createLoop(entry));
    const changed = change.change.map((entry) => this.createLoop(entry));
    const leaving = [...change.remove, ...changed.map((l) => l.name)].map((name) => this.loop(name));
    await this.stopLoops(leaving, deadlineMs);
    for (const name of change.remove) {
      this.loops.get(name)!.forgetSeries();
      this.loops.delete(name);
      this.deps.log.forgetCursor?.(name);
    }
    for (const loop of changed) this.loops.set(loop.name, loop);
    for (const loop of added) this.loops.set(loop.name, loop);
    if (this.started) {
      await Promise.all([...changed.map((loop) => loop.start()), ...added.map((loop) => loop.start({ from: 'end' }))]);
    }
    DISPATCH_EVENTS.dispatchSinksChanged.emit(this.deps, {
      added: added.map((l) => l.name),
      changed: changed.map((l) => l.name),
      removed: [...change.remove],
    });
  }

  status(): SinkStatus[] {
    return [...this.loops.values()].map((l) => l.status());
  }

  async replayDeadLetters(sinkName: string): Promise<DeadLetterReplayResult> {
    return this.loop(sinkName).replayDeadLetters();
  }

  async replayFromLog(sinkName: string, target: SeekTarget): Promise<LogReplayResult> {
    return this.loop(sinkName).seek(target);
  }

  private createLoop(entry: DispatcherSink): SinkLoop {
    const { config, sink } = buildSink(entry, this.deps, this.clock);
    return new SinkLoop({
      config,
      sink,
      log: this.deps.log,
      dispatch: this.deps.dispatch,
      deadLetter: new DeadLetterFile(this.deps.dataDir, config.name),
      logger: this.deps.logger,
      metrics: this.deps.metrics,
      clock: this.clock,
      random: this.deps.random ?? Math.random,
    });
  }

  /** Stops reading, lets deliveries in flight finish for up to `deadlineMs`, then persists the cursors and closes the sinks. */
  private async stopLoops(loops: readonly SinkLoop[], deadlineMs: number): Promise<void> {
    for (const loop of loops) loop.requestStop();
    const timer = new AbortController();
    const inTime = await Promise.race([
      Promise.all(loops.map((l) => l.stopped())).then(() => true),
      this.clock.sleep(deadlineMs, timer.signal).then(() => false),
    ]);
    timer.abort();
    if (!inTime) DISPATCH_EVENTS.dispatchStopDeadline.emit(this.deps, { deadlineMs, sinks: loops.map((l) => l.name) });
    await Promise.all(loops.map((l) => l.shutdown()));
  }

  private loop(name: string): SinkLoop {
    const loop = this.loops.get(name);
    if (!loop)
      throw new BeaconError(
        'BEACON_E_SINK_UNKNOWN',
        `no sink named "${name}"; configured: ${[...this.loops.keys()].join(', ') || 'none'}`,
        { sink: name },
      );
    return loop;
  }
}

function buildSink(entry: DispatcherSink, deps: DispatcherDeps, clock: Clock): { config: BaseSinkConfig; sink: Sink } {
  if (entry.sink)
    return { config: oneAtATimeForPositions(readySinkConfig(entry.config), entry.sink), sink: entry.sink };
  const config = entry.config;
  const definition = findSinkDefinition(config.type);
  // The config schema refuses unknown types; a caller that built its config by hand may not have.
  if (!definition)
    throw new BeaconError(
      'BEACON_E_CONFIG_FIELD',
      `sinks: unknown sink type "${config.type}" for sink "${config.name}"`,
      {
        sink: config.name,
        type: config.type,
      },
    );
  const sink = definition.create(config, {
    name: config.name,
    dataDir: deps.dataDir,
    logger: deps.logger.child({ sink: config.name }),
    clock,
    schemas: deps.schemas,
  });
  return { config: oneAtATimeForPositions(config, sink), sink };
}

/**
 * A sink that ties its output to log positions (`deliverAt`) takes one batch at a time: each
 * call hands the position after everything before it. Its config schema allows only 1; this
 * catches a ready sink configured otherwise.
 */
function oneAtATimeForPositions(config: BaseSinkConfig, sink: Sink): BaseSinkConfig {
  if (sink.deliverAt && config.batch.inFlight > 1) {
    const field = `sinks.${config.name}.batch.inFlight`;
    throw new BeaconError(
      'BEACON_E_CONFIG_FIELD',
      `${field}: the ${config.type} sink writes by log position and delivers one batch at a time; set it to 1`,
      { field },
    );
  }
  return config;
}

/** A ready sink's config with the base fields' defaults filled in (it never went through the config schema). */
function readySinkConfig(raw: { name: string; type: string }): BaseSinkConfig {
  const result = readySinkSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = ['sinks', raw.name, ...(issue?.path ?? []).map(String)].join('.');
  throw new BeaconError('BEACON_E_CONFIG_FIELD', `${field}: ${issue?.message ?? 'invalid'}`, { field });
}
