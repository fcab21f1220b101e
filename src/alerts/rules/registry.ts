import type { RuleDefinition } from './rule.js';
import { deadLettersRateRule } from './deadLettersRate.js';
import { httpErrorsRule } from './httpErrors.js';
import { logUsageRule } from './logUsage.js';
import { noEventsRule } from './noEvents.js';
import { sinkDownRule } from './sinkDown.js';

/** Every alert rule type; the `alerts.rules` config schema is built from this list. */
export const RULE_DEFINITIONS = [
  sinkDownRule,
  deadLettersRateRule,
  logUsageRule,
  httpErrorsRule,
  noEventsRule,
] as const satisfies readonly RuleDefinition[];

export function findRuleDefinition(type: string): RuleDefinition | undefined {
  return RULE_DEFINITIONS.find((d) => d.type === type);
}
