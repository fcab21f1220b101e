import type { Logger } from 'pino';
import type { SinkStatus } from '../dispatch/status.js';
import type { LogUsage } from '../log/eventLog.js';
import { systemClock, type Clock } from '../ops/clock.js';
import { ALERT_EVENTS, type AlertEvents } from './internalEvents.js';
import type { ChannelQueue } from './channels/channelQueue.js';
import type { FiringStateFile, StoredAlert } from './firingState.js';
import type { AlertNotification } from './notification.js';
import type { AlertSignals, BaseRuleConfig, IntakeCounters, Observation, RuleEvaluator } from './rules/rule.js';
import { AlertTracker, type Transition } from './tracker.js';

/** What the engine reads each round, from the process that runs the dispatcher. */
export interface AlertInputs {
  sinks(): readonly SinkStatus[];
  logUsage(): LogUsage;
  /** Intake counters over every collector process (may cross IPC, so it may fail or be slow). */
  intake(): Promise<IntakeCounters>;
}

export interface EngineRule {
  config: BaseRuleConfig;
  evaluator: RuleEvaluator;
  /** Whether the rule reads `intake` (the others run without the counters). */
  readsIntake: boolean;
}

export interface AlertEngineDeps {
  rules: readonly EngineRule[];
  /** Every configured channel's queue, by name. */
  queues: ReadonlyMap<string, ChannelQueue>;
  inputs: AlertInputs;
  evaluateEveryMs: number;
  renotifyAfterMs: number;
  state: FiringStateFile;
  events: AlertEvents;
  logger: Logger;
  beacon: AlertNotification['beacon'];
  clock?: Clock;
}

/** One firing alert, as `firing()` reports it. */
export interface FiringAlert {
  rule: string;
  instance: string | undefined;
  since: number;
  firedAt: number;
}

const SEP = '\u0000';

/**
 * Evaluates every rule each `evaluateEvery`, steps each instance's state machine
 * (tracker.ts) and hands the messages of its transitions to the rule's channels. A rule that
 * throws, counters that cannot be read, or a state file that cannot be written are logged and
 * the round goes on: the engine never takes the process down.
 */
export class AlertEngine {
  private readonly trackers = new Map<string, AlertTracker>();
  private readonly clock: Clock;
  private readonly stopSignal = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly readsIntake: boolean;
  private intakeProblem: string | undefined;

  constructor(private readonly deps: AlertEngineDeps) {
    this.clock = deps.clock ?? systemClock;
    this.readsIntake = deps.rules.some((r) => r.readsIntake);
    for (const rule of deps.rules) deps.events.firing(rule.config.name, 0);
  }

  /**
   * Continues the alerts that were firing before a restart, so they resolve (or remind) instead
   * of firing again. Alerts of rules no longer configured, or of sinks that are gone, are dropped.
   */
  async restore(sinkNames: readonly string[]): Promise<void> {
    const { alerts, problem } = await this.deps.state.load();
    if (problem) ALERT_EVENTS.alertStateUnreadable.emit(this.deps, { path: this.deps.state.path, problem });
    const sinks = new Set(sinkNames);
    for (const stored of alerts) {
      const rule = this.deps.rules.find((r) => r.config.name === stored.rule);
      if (!rule || (stored.key !== '' && !sinks.has(stored.key))) {
        ALERT_EVENTS.alertStateDropped.emit(this.deps, { rule: stored.rule, instance: stored.key || undefined });
        continue;
      }
      this.trackers.set(
        stored.rule + SEP + stored.key,
        AlertTracker.resume(rule.config.for, this.deps.renotifyAfterMs, stored),
      );
    }
    this.updateFiringGauge();
  }

  start(): void {
    this.loop ??= (async () => {
      while (!this.stopSignal.signal.aborted) {
        await this.clock.sleep(this.deps.evaluateEveryMs, this.stopSignal.signal);
        if (this.stopSignal.signal.aborted) break;
        await this.evaluate().catch((err: unknown) => ALERT_EVENTS.alertRoundFailed.emit(this.deps, { err }));
      }
    })();
  }

  /** One round: read the signals, observe every rule, step every instance, send what changed. */
  async evaluate(): Promise<void> {
    const now = this.clock.now();
    const signals: AlertSignals = {
      now,
      sinks: this.deps.inputs.sinks(),
      log: this.deps.inputs.logUsage(),
      intake: await this.readIntake(),
    };
    let changed = false;
    for (const rule of this.deps.rules) {
      let observations: Observation[];
      try {
        observations = rule.evaluator.observe(signals);
      } catch (err) {
        ALERT_EVENTS.alertRuleFailed.emit(this.deps, { rule: rule.config.name, err });
        continue;
      }
      for (const obs of observations) {
        const id = rule.config.name + SEP + obs.key;
        let tracker = this.trackers.get(id);
        if (!tracker) this.trackers.set(id, (tracker = new AlertTracker(rule.config.for, this.deps.renotifyAfterMs)));
        const before = { since: tracker.since, firedAt: tracker.firedAt };
        const transition = tracker.step(obs.active, now, obs.since);
        if (!transition) continue;
        changed = true;
        this.notify(
          rule.config,
          obs,
          transition,
          transition === 'resolve'
            ? (before as { since: number; firedAt: number })
            : { since: tracker.since!, firedAt: tracker.firedAt! },
          now,
        );
      }
    }
    this.updateFiringGauge();
    if (changed) await this.save();
  }

  /** The alerts firing now. */
  firing(): FiringAlert[] {
    const out: FiringAlert[] = [];
    for (const [id, t] of this.trackers) {
      if (t.phase !== 'firing') continue;
      const [rule, key] = id.split(SEP) as [string, string];
      out.push({ rule, instance: key || undefined, since: t.since!, firedAt: t.firedAt! });
    }
    return out;
  }

  /** Resolves once every channel has nothing queued or in flight. */
  async idle(): Promise<void> {
    await Promise.all([...this.deps.queues.values()].map((q) => q.idle()));
  }

  /** Stops evaluating; channels get until `deadlineMs` to send what is queued. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopSignal.abort();
    await this.loop;
    await Promise.all([...this.deps.queues.values()].map((q) => q.stop(deadlineMs)));
  }

  private async readIntake(): Promise<IntakeCounters | undefined> {
    if (!this.readsIntake) return undefined;
    try {
      const counters = await this.deps.inputs.intake();
      if (this.intakeProblem) ALERT_EVENTS.alertIntakeCountersBack.emit(this.deps, {});
      this.intakeProblem = undefined;
      return counters;
    } catch (err) {
      const problem = (err as Error).message;
      // Logged when it starts or changes, not every round.
      if (problem !== this.intakeProblem) {
        ALERT_EVENTS.alertIntakeCountersUnreadable.emit(this.deps, { err: problem });
      }
      this.intakeProblem = problem;
      return undefined;
    }
  }

  private notify(
    rule: BaseRuleConfig,
    obs: Observation,
    transition: Transition,
    times: { since: number; firedAt: number },
    now: number,
  ): void {
    const n: AlertNotification = {
      status: transition === 'resolve' ? 'resolved' : 'firing',
      reminder: transition === 'remind',
      episode: `${rule.name}/${obs.key || '-'}/${times.firedAt}`,
      rule: rule.name,
      type: rule.type,
      ...(obs.key ? { instance: obs.key } : {}),
      summary: obs.summary,
      since: times.since,
      firedAt: times.firedAt,
      ...(transition === 'resolve' ? { resolvedAt: now } : {}),
      at: now,
      values: obs.values,
      hint: obs.hint,
      forMs: rule.for,
      renotifyAfterMs: this.deps.renotifyAfterMs,
      beacon: this.deps.beacon,
    };
    this.deps.events.transition(n, rule.channels);
    for (const name of rule.channels) this.deps.queues.get(name)?.enqueue(n);
  }

  private updateFiringGauge(): void {
    const counts = new Map(this.deps.rules.map((r) => [r.config.name, 0]));
    for (const a of this.firing()) counts.set(a.rule, (counts.get(a.rule) ?? 0) + 1);
    for (const [rule, count] of counts) this.deps.events.firing(rule, count);
  }

  private async save(): Promise<void> {
    const firing: StoredAlert[] = [];
    for (const [id, t] of this.trackers) {
      const record = t.record();
      if (!record) continue;
      const [rule, key] = id.split(SEP) as [string, string];
      firing.push({ rule, key, ...record });
    }
    try {
      await this.deps.state.save(firing);
    } catch (err) {
      ALERT_EVENTS.alertStateUnwritable.emit(this.deps, { path: this.deps.state.path, err });
    }
  }
}
