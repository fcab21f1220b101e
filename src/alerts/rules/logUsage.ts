import { z } from 'zod';
import { formatBytes } from '../../ops/byteUnits.js';
import { RuleBase, ruleConfigSchema, type AlertSignals, type Observation, type RuleDefinition } from './rule.js';

export const logUsageSchema = ruleConfigSchema('log_usage', 0, {
  /** Fires when the retained log holds at least this percentage of log.maxBytes. */
  percent: z.number().gt(0).max(100),
});

type LogUsageConfig = z.output<typeof logUsageSchema>;

/**
 * The log filling up: some sink is behind, and at 100 % the collector answers 503. The log is
 * shared by every sink, so this rule has one instance.
 */
class LogUsage extends RuleBase<LogUsageConfig> {
  observe(signals: AlertSignals): Observation[] {
    const percent = signals.log.ratio * 100;
    const shown = `${(Math.floor(percent * 10) / 10).toFixed(1)}%`;
    const active = percent >= this.config.percent;
    const behind = [...signals.sinks].sort((a, b) => b.lagEvents - a.lagEvents).filter((s) => s.lagEvents > 0);
    const slowest = behind[0];
    return [
      {
        key: '',
        active,
        summary: `log ${shown} full (${formatBytes(signals.log.bytes)} of ${formatBytes(signals.log.maxBytes)}, threshold ${this.config.percent}%)`,
        values: {
          percent: Math.round(percent * 10) / 10,
          threshold: this.config.percent,
          bytes: signals.log.bytes,
          maxBytes: signals.log.maxBytes,
          ...(slowest ? { slowestSink: slowest.name, slowestSinkLagEvents: slowest.lagEvents } : {}),
        },
        hint: active
          ? [
              'The log keeps events until the slowest sink has delivered them; when it is full, the collector answers 503 with Retry-After.',
              slowest
                ? `Sink "${slowest.name}" is furthest behind (${slowest.lagEvents} events, state ${slowest.state}): get its destination back or faster.`
                : 'No sink is behind: retention of delivered events should free space shortly.',
              `See every sink's lag: beacon status${this.context.cliUrlArgs}; or raise log.maxBytes if the disk has room.`,
            ].join('\n')
          : 'Nothing to do: the sinks caught up and retention freed space.',
      },
    ];
  }
}

/** `log_usage`: the log above P % of log.maxBytes. */
export const logUsageRule: RuleDefinition<typeof logUsageSchema> = {
  type: 'log_usage',
  configSchema: logUsageSchema,
  readsIntake: false,
  create: (config, context) => new LogUsage(config, context),
};
