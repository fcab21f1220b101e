import { z } from 'zod';
import { registryUnion } from '../config/partsSchema.js';
import { duration } from '../config/units.js';
import { CHANNEL_DEFINITIONS } from './channels/registry.js';
import { RULE_DEFINITIONS } from './rules/registry.js';

/**
 * The `alerts` config section (docs/alerts.md): rules watched in the process that runs the
 * dispatcher, and the channels their messages go to. Names are unique and every channel a
 * rule names must exist; that rules name existing sinks is checked with the whole config
 * (`checkAlertSinks`).
 */
export const alertsSchema = z
  .strictObject({
    /** How often the rules are evaluated; `for` and rates are only as precise as this. */
    evaluateEvery: duration().default(10_000),
    /** While an alert keeps firing, send it again this often; 0 sends it once. */
    renotifyAfter: duration().default(3_600_000),
    /** What to watch: `sink_down`, `dead_letters_rate`, `log_usage`, `http_errors`, `no_events`. */
    rules: z.array(registryUnion(RULE_DEFINITIONS)).default([]),
    /** Where messages go: `email` (SMTP) or `webhook` (JSON POST). */
    channels: z.array(registryUnion(CHANNEL_DEFINITIONS)).default([]),
  })
  .superRefine((alerts, ctx) => {
    if (alerts.evaluateEvery < 50)
      ctx.addIssue({ code: 'custom', path: ['evaluateEvery'], message: 'evaluate at most every 50ms' });
    uniqueNames(alerts.rules, 'rules', 'rule', ctx);
    uniqueNames(alerts.channels, 'channels', 'channel', ctx);
    const channels = new Set(alerts.channels.map((c) => c.name));
    alerts.rules.forEach((rule, i) => {
      rule.channels.forEach((name, j) => {
        if (!channels.has(name)) {
          const known = [...channels].join(', ') || 'none configured';
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'channels', j],
            message: `rule "${rule.name}" names channel "${name}", which is not in alerts.channels (${known})`,
          });
        }
      });
    });
  });

function uniqueNames(list: readonly { name: string }[], key: string, kind: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  list.forEach((item, i) => {
    if (seen.has(item.name))
      ctx.addIssue({
        code: 'custom',
        path: [key, i, 'name'],
        message: `${kind} name "${item.name}" is used twice; names must be unique`,
      });
    seen.add(item.name);
  });
}

export type AlertsConfig = z.output<typeof alertsSchema>;

/** Rules that watch one sink must name a configured sink (checked over the whole config). */
export function checkAlertSinks(
  config: { alerts: AlertsConfig; sinks: readonly { name: string }[] },
  ctx: z.RefinementCtx,
): void {
  const sinks = new Set(config.sinks.map((s) => s.name));
  config.alerts.rules.forEach((rule, i) => {
    if ('sink' in rule && rule.sink !== undefined && !sinks.has(rule.sink)) {
      ctx.addIssue({
        code: 'custom',
        path: ['alerts', 'rules', i, 'sink'],
        message: `rule "${rule.name}" watches sink "${rule.sink}", which is not configured (sinks: ${[...sinks].join(', ') || 'none'})`,
      });
    }
  });
}
