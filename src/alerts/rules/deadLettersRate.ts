import { z } from 'zod';
import { join } from 'node:path';
import { duration } from '../../config/units.js';
import { formatRate, formatSpan } from '../format.js';
import { CounterWindow } from './counterWindow.js';
import { RuleBase, ruleConfigSchema, type AlertSignals, type Observation, type RuleDefinition } from './rule.js';

export const deadLettersRateSchema = ruleConfigSchema('dead_letters_rate', 0, {
  /** Watch only this sink; absent: every sink, each alerting on its own. */
  sink: z.string().optional(),
  /** Fires when more than this many events per minute, averaged over `window`, go to the sink's dead letter. */
  perMinute: z.number().positive(),
  /** The span the rate is averaged over. */
  window: duration().default(5 * 60_000),
});

type DeadLettersRateConfig = z.output<typeof deadLettersRateSchema>;

/** Dead letters growing faster than `perMinute`: a destination refusing events for good (bad schema, a changed API). */
class DeadLettersRate extends RuleBase<DeadLettersRateConfig> {
  private readonly windows = new Map<string, CounterWindow>();

  observe(signals: AlertSignals): Observation[] {
    const { perMinute, window } = this.config;
    return signals.sinks
      .filter((s) => this.config.sink === undefined || s.name === this.config.sink)
      .map((s) => {
        let counter = this.windows.get(s.name);
        if (!counter) this.windows.set(s.name, (counter = new CounterWindow(window)));
        counter.add(signals.now, s.deadLettered);
        const rate = counter.perMinute();
        const active = rate > perMinute;
        const file = join(this.context.dataDir, 'dlq', `${s.name}.ndjson`);
        return {
          key: s.name,
          active,
          summary: `${s.name} (${formatRate(rate)} dead letters over ${formatSpan(window)}, threshold ${formatRate(perMinute)})`,
          values: {
            sink: s.name,
            sinkType: s.type,
            perMinute: round(rate),
            threshold: perMinute,
            inWindow: counter.increase(),
            window: formatSpan(window),
            deadLetteredTotal: s.deadLettered,
          },
          hint: active
            ? [
                `The destination of sink "${s.name}" refuses events for good; each one is kept with its reason in ${file}.`,
                'Read a few reasons (tail -n 5 of that file), fix the cause (the destination, or the events sent), then re-deliver them:',
                `beacon replay --sink ${s.name}${this.context.cliUrlArgs}`,
              ].join('\n')
            : `Nothing to do; ${s.deadLettered} dead letters in total wait in ${file} for beacon replay --sink ${s.name}${this.context.cliUrlArgs}`,
        };
      });
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/** `dead_letters_rate`: dead letters growing faster than N per minute. */
export const deadLettersRateRule: RuleDefinition<typeof deadLettersRateSchema> = {
  type: 'dead_letters_rate',
  configSchema: deadLettersRateSchema,
  readsIntake: false,
  create: (config, context) => new DeadLettersRate(config, context),
};
