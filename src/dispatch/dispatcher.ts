import { z } from 'zod';
import type { Logger } from 'pino';
import type { DispatchConfig } from '../config/schema.js';
import { BeaconError } from '../errors/beaconError.js';
import type { EventLog, SeekTarget } from '../log/eventLog.js';
import { systemClock, type Clock } from '../ops/clock.js';
import type { Metrics } from '../ops/metrics.js';
import { findSinkDefinition } from '../sinks/registry.js';
import type { Sink } from '../sinks/sink.js';
import { baseSinkFields, type BaseSinkConfig } from '../sinks/sinkConfig.js';
import { DeadLetterFile } from './deadLetter.js';
import { SinkLoop } from './sinkLoop.js';
import type { DeadLetterReplayResult, LogReplayResult, SinkStatus } from './status.js';

export interface DispatcherSink {
  /** The sink's config, parsed or raw: it is validated against its type's schema (defaults filled in) here. */
  config: { name: string; type: string } & Record<string, unknown>;
  /** A ready sink to use instead of building one from the registry (tests, embedding). */
  sink?: Sink;
}

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
}

const looseBaseSchema = z.looseObject({ type: z.string(), ...baseSinkFields });

/**
 * Runs one independent delivery loop per sink (see sinkLoop.ts for the rules each keeps) and
 * answers `beacon status` and `beacon replay`.
 */
export class Dispatcher {
  private readonly loops = new Map<string, SinkLoop>();
  private readonly deps: DispatcherDeps;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private started = false;

  constructor(deps: DispatcherDeps) {
    this.deps = deps;
    this.logger = deps.logger;
    this.clock = deps.clock ?? systemClock;
    for (const entry of deps.sinks) {
      const loop = this.createLoop(entry);
      if (this.loops.has(loop.name)) throw new BeaconError('BEACON_E_CONFIG_FIELD', `sink name "${loop.name}" is used twice; names must be unique`, { sink: loop.name });
      this.loops.set(loop.name, loop);
    }
  }

  /** Opens every sink's cursor and starts the loops; resolves once they run (sinks may still be connecting). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await Promise.all([...this.loops.values()].map((loop) => loop.start()));
    this.logger.info({ event: 'dispatch_started', sinks: [...this.loops.keys()] }, 'dispatcher started');
  }

  /**
   * Stops reading, lets deliveries in flight finish for up to `deadlineMs`, then persists
   * every cursor and closes every sink. Events read but not delivered stay uncommitted and are
   * delivered after the next start.
   */
  async stop(deadlineMs: number): Promise<void> {
    await this.stopLoops([...this.loops.values()], deadlineMs);
    this.logger.info({ event: 'dispatch_stopped' }, 'dispatcher stopped');
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
  async applySinks(change: { add: readonly DispatcherSink[]; change: readonly DispatcherSink[]; remove: readonly string[] }, deadlineMs: number): Promise<void> {
    for (const name of [...change.remove, ...change.change.map((e) => e.config.name)]) this.loop(name);
    for (const entry of change.add) {
      if (this.loops.has(entry.config.name)) throw new BeaconError('BEACON_E_CONFIG_FIELD', `sink name "${entry.config.name}" is already running; names must be unique`, { sink: entry.config.name });
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
    this.logger.info(
      { event: 'dispatch_sinks_changed', added: added.map((l) => l.name), changed: changed.map((l) => l.name), removed: [...change.remove] },
      'sinks changed while running',
    );
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
    if (!inTime) this.logger.warn({ event: 'dispatch_stop_deadline', deadlineMs, sinks: loops.map((l) => l.name) }, 'deliveries still in flight at the stop deadline; they will be delivered again');
    await Promise.all(loops.map((l) => l.shutdown()));
  }

  private loop(name: string): SinkLoop {
    const loop = this.loops.get(name);
    if (!loop) throw new BeaconError('BEACON_E_SINK_UNKNOWN', `no sink named "${name}"; configured: ${[...this.loops.keys()].join(', ') || 'none'}`, { sink: name });
    return loop;
  }
}

function buildSink(entry: DispatcherSink, deps: DispatcherDeps, clock: Clock): { config: BaseSinkConfig; sink: Sink } {
  const raw = entry.config;
  if (entry.sink) return { config: parseOrThrow(looseBaseSchema, raw) as BaseSinkConfig, sink: entry.sink };
  const definition = findSinkDefinition(raw.type);
  if (!definition) throw new BeaconError('BEACON_E_CONFIG_FIELD', `sinks: unknown sink type "${raw.type}" for sink "${raw.name}"`, { sink: raw.name, type: raw.type });
  const config = parseOrThrow(definition.configSchema, raw) as BaseSinkConfig & Record<string, unknown>;
  const sink = definition.create(config, { name: config.name, dataDir: deps.dataDir, logger: deps.logger.child({ sink: config.name }), clock });
  return { config, sink };
}

function parseOrThrow(schema: z.ZodType, raw: { name?: unknown }): unknown {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = ['sinks', String(raw.name), ...(issue?.path ?? []).map(String)].join('.');
  throw new BeaconError('BEACON_E_CONFIG_FIELD', `${field}: ${issue?.message ?? 'invalid'}`, { field });
}
