import { z } from 'zod';
import type { TypeOf } from '../../config/partsSchema.js';
import { duration } from '../../config/units.js';
import type { SinkStatus } from '../../dispatch/status.js';
import type { LogUsage } from '../../log/eventLog.js';

/**
 * The seam between alert rules and the engine. A rule reads one round of signals (what the
 * process that owns the dispatcher already knows) and says, per instance, whether its
 * condition holds; the engine owns timing (`for`), state, re-notification and delivery.
 */

/** Intake counters summed over every collector process (monotonic within a process's life). */
export interface IntakeCounters {
  /** Events made durable in the log, all sources (`beacon_events_appended_total`). */
  appended: number;
  /** HTTP refusals per error code (`beacon_events_rejected_total{source="http"}`). */
  httpRejected: Readonly<Record<string, number>>;
}

/** One evaluation round's view of Beacon. */
export interface AlertSignals {
  now: number;
  sinks: readonly SinkStatus[];
  log: LogUsage;
  /** Undefined when the counters could not be read this round (a collector did not answer). */
  intake: IntakeCounters | undefined;
}

export type AlertValue = string | number;

/** What a rule says about one of its instances in one round. */
export interface Observation {
  /** The instance within the rule: the sink name for per-sink rules, '' for the others. */
  key: string;
  /** Whether the condition holds; undefined when this round cannot tell (the alert keeps its state). */
  active: boolean | undefined;
  /** When the condition began; absent: the first round it was seen holding. */
  since?: number;
  /** One line naming what and how much, e.g. `hook (backing off 5m)`; it ends up in the subject. */
  summary: string;
  /** Current figures, shown in the message body and the webhook's `values`. */
  values: Record<string, AlertValue>;
  /** What to do next, one step per line. */
  hint: string;
}

export interface RuleEvaluator {
  observe(signals: AlertSignals): Observation[];
}

/** What rules may use to write useful hints. */
export interface RuleContext {
  /** Where this Beacon answers, as seen from its own host, e.g. `http://127.0.0.1:8290`. */
  baseUrl: string;
  /** `beacon` CLI arguments that reach this instance, e.g. ` --url https://127.0.0.1:8443` (empty at the default URL). */
  cliUrlArgs: string;
  dataDir: string;
  now(): number;
}

/**
 * The head every rule's evaluator shares: it keeps its config (its block in `alerts.rules`) and
 * the context its hints are written with; a rule adds its own state and `observe`.
 */
export abstract class RuleBase<C> implements RuleEvaluator {
  constructor(
    protected readonly config: C,
    protected readonly context: RuleContext,
  ) {}

  abstract observe(signals: AlertSignals): Observation[];
}

export interface RuleDefinition<S extends z.ZodObject = z.ZodObject> {
  /** The config `type` value: the literal of its config schema. */
  type: TypeOf<S>;
  configSchema: S;
  /** Whether the rule reads `AlertSignals.intake` (counters that may have to be fetched from collector processes). */
  readsIntake: boolean;
  create(config: z.output<S>, context: RuleContext): RuleEvaluator;
}

/** Rule names appear in subjects and metric labels: short and plain. */
export const ruleNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/,
    'letters, digits and _ . : - (at most 64, starting with a letter or digit)',
  );

/** A rule's strict schema: the fields every rule has plus its own, keyed by `type`. */
export function ruleConfigSchema<T extends string, S extends z.ZodRawShape>(type: T, forDefaultMs: number, shape: S) {
  return z.strictObject({
    name: ruleNameSchema,
    type: z.literal(type),
    /** Names of the channels (alerts.channels) that get this rule's messages. */
    channels: z.array(z.string()).min(1, 'name at least one channel from alerts.channels'),
    /** How long the condition must hold before the alert fires. */
    for: duration().default(forDefaultMs),
    ...shape,
  });
}

/** The fields every parsed rule has. */
export interface BaseRuleConfig {
  name: string;
  type: string;
  channels: string[];
  /** ms */
  for: number;
}
