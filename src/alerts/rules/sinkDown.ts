import { z } from 'zod';
import type { SinkStatus } from '../../dispatch/status.js';
import { formatSpan } from '../format.js';
import { RuleBase, ruleConfigSchema, type AlertValue, type Observation, type RuleDefinition } from './rule.js';

export const sinkDownSchema = ruleConfigSchema('sink_down', 5 * 60_000, {
  /** Watch only this sink; absent: every sink, each alerting on its own. */
  sink: z.string().optional(),
});

type SinkDownConfig = z.output<typeof sinkDownSchema>;

/**
 * A sink that keeps failing: backing off, probing (a `delivering` attempt between two back-offs
 * with nothing delivered since), or stopped on a fatal error. A sink's state flips between
 * `backing_off` and `delivering` at every probe, so "down since" is kept here, per sink, from
 * the first failing round until a round in which it delivered something or went idle.
 */
class SinkDown extends RuleBase<SinkDownConfig> {
  private readonly failing = new Map<string, { since: number; delivered: number }>();

  observe(signals: { now: number; sinks: readonly SinkStatus[] }): Observation[] {
    const watched = signals.sinks.filter((s) => this.config.sink === undefined || s.name === this.config.sink);
    return watched.map((s) => this.observeSink(s, signals.now));
  }

  private observeSink(s: SinkStatus, now: number): Observation {
    const known = this.failing.get(s.name);
    const deliveredSince = known !== undefined && s.delivered > known.delivered;
    const failed = s.state === 'backing_off' || s.state === 'fatal';
    const probing = s.state === 'delivering' && known !== undefined && !deliveredSince;
    // Shutting down, or the very first attempt since start still in flight: nothing to tell yet.
    const unknown =
      s.state === 'stopped' || (s.state === 'delivering' && known === undefined && s.delivered === 0 && s.errors === 0);
    const values = sinkValues(s);
    if (unknown) return { key: s.name, active: undefined, summary: `${s.name} (${s.state})`, values, hint: '' };
    if (!failed && !probing) {
      this.failing.delete(s.name);
      return {
        key: s.name,
        active: false,
        summary: `${s.name} (${s.state === 'idle' ? 'caught up' : 'delivering again'})`,
        values,
        hint: this.recoveredHint(s),
      };
    }
    let since = known?.since;
    if (since === undefined || deliveredSince) {
      const lastErrorAt = s.lastError ? Date.parse(s.lastError.at) : now;
      since = s.state === 'fatal' ? Date.parse(s.since) : Math.min(now, lastErrorAt);
    }
    this.failing.set(s.name, { since, delivered: s.delivered });
    values.downFor = formatSpan(now - since);
    const summary =
      s.state === 'fatal'
        ? `${s.name} (stopped on a fatal error)`
        : `${s.name} (backing off ${formatSpan(now - since)})`;
    return { key: s.name, active: true, since, summary, values, hint: this.failingHint(s) };
  }

  private failingHint(s: SinkStatus): string {
    const lastError = s.lastError ? `"${s.lastError.message}"` : '(none recorded)';
    if (s.state === 'fatal') {
      return [
        `The sink stopped because its config cannot work; last error ${lastError}.`,
        `Fix sinks "${s.name}" in the config and restart Beacon: its ${s.lagEvents} undelivered events wait in the log.`,
        `See every sink's state: beacon status${this.context.cliUrlArgs}`,
      ].join('\n');
    }
    return [
      `Check that the destination of sink "${s.name}" (${s.type}) is up and reachable; last error ${lastError}.`,
      `Beacon keeps retrying (up to maxFailoverDuration apart); the ${s.lagEvents} undelivered events wait in the log, nothing is lost unless the log fills up.`,
      `See every sink's state and lag: beacon status${this.context.cliUrlArgs}`,
    ].join('\n');
  }

  private recoveredHint(s: SinkStatus): string {
    return s.lagEvents > 0
      ? `Nothing to do: the sink is delivering its backlog (${s.lagEvents} events, oldest ${formatSpan(s.lagSeconds * 1000)}); follow it with beacon status${this.context.cliUrlArgs}`
      : 'Nothing to do: the sink has caught up.';
  }
}

function sinkValues(s: SinkStatus): Record<string, AlertValue> {
  const values: Record<string, AlertValue> = {
    sink: s.name,
    sinkType: s.type,
    state: s.state,
    lagEvents: s.lagEvents,
    lagSeconds: Math.round(s.lagSeconds),
  };
  if (s.lastError) {
    values.lastError = s.lastError.message;
    values.lastErrorAt = s.lastError.at;
  }
  if (s.nextAttemptAt) values.nextAttemptAt = s.nextAttemptAt;
  return values;
}

/** `sink_down`: a sink down or backing off for longer than `for`. */
export const sinkDownRule: RuleDefinition<typeof sinkDownSchema> = {
  type: 'sink_down',
  configSchema: sinkDownSchema,
  readsIntake: false,
  create: (config, context) => new SinkDown(config, context),
};
