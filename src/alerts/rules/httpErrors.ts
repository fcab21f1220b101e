import { z } from 'zod';
import { duration } from '../../config/units.js';
import { ERROR_CODES } from '../../errors/codes.js';
import { formatRate, formatSpan } from '../format.js';
import { CounterWindow } from './counterWindow.js';
import { RuleBase, ruleConfigSchema, type AlertSignals, type Observation, type RuleDefinition } from './rule.js';

export const httpErrorsSchema = ruleConfigSchema('http_errors', 0, {
  /** Which refusals count: a class (`4xx`, `5xx`) or one status (`503`, `413`...). */
  status: z.string().regex(/^[45](xx|\d\d)$/, 'a status class such as 4xx or 5xx, or a status such as 503'),
  /** Fires when more than this many refusals per minute, averaged over `window`, match `status`. */
  perMinute: z.number().positive(),
  /** The span the rate is averaged over. */
  window: duration().default(5 * 60_000),
});

type HttpErrorsConfig = z.output<typeof httpErrorsSchema>;

/** Whether a status matches `4xx`, `5xx` or an exact status such as `503`. */
export function statusMatches(pattern: string, status: number): boolean {
  return pattern.endsWith('xx') ? Math.floor(status / 100) === Number(pattern[0]) : status === Number(pattern);
}

/**
 * The collector refusing requests: 503s (the log is full, or Beacon is stopping) or 4xx (a
 * client sending what Beacon cannot take: a tracker bug, a changed event type, oversized
 * batches). It counts what `beacon_events_rejected_total{source="http"}` counts, per code,
 * mapped to each code's status: a refused request counts one, each refused event of a batch one.
 */
class HttpErrors extends RuleBase<HttpErrorsConfig> {
  private readonly counter = new CounterWindow(this.config.window);
  /** The codes whose status matches `status`. */
  private readonly matching: ReadonlySet<string> = new Set(
    Object.entries(ERROR_CODES)
      .filter(([, { status }]) => statusMatches(this.config.status, status))
      .map(([code]) => code),
  );
  private readonly codes = (code: string): boolean => this.matching.has(code);

  observe(signals: AlertSignals): Observation[] {
    if (!signals.intake) return [];
    const { perMinute, window, status } = this.config;
    let total = 0;
    const byCode: [string, number][] = [];
    for (const [code, count] of Object.entries(signals.intake.httpRejected)) {
      if (!this.codes(code)) continue;
      total += count;
      byCode.push([code, count]);
    }
    this.counter.add(signals.now, total);
    const rate = this.counter.perMinute();
    const active = rate > perMinute;
    const top = byCode.sort((a, b) => b[1] - a[1]).slice(0, 3);
    return [
      {
        key: '',
        active,
        summary: `${formatRate(rate)} HTTP ${status} refusals over ${formatSpan(window)} (threshold ${formatRate(perMinute)})`,
        values: {
          status,
          perMinute: Math.round(rate * 100) / 100,
          threshold: perMinute,
          inWindow: this.counter.increase(),
          window: formatSpan(window),
          ...(top.length ? { codesSinceStart: top.map(([c, n]) => `${c}=${n}`).join(', ') } : {}),
        },
        hint: active ? this.activeHint(top.map(([c]) => c)) : 'Nothing to do: refusals are back under the threshold.',
      },
    ];
  }

  private activeHint(codes: string[]): string {
    const lines = [
      `Which codes, per source: curl -s ${this.context.baseUrl}/metrics | grep beacon_events_rejected_total (docs/errors.md explains each code).`,
    ];
    if (codes.includes('BEACON_E_LOG_FULL'))
      lines.push(
        `BEACON_E_LOG_FULL: the log is full because a sink is behind; see beacon status${this.context.cliUrlArgs} and fix that sink, or raise log.maxBytes.`,
      );
    const clientCodes = codes.filter((c) => (ERROR_CODES[c as keyof typeof ERROR_CODES]?.status ?? 0) < 500);
    for (const c of clientCodes)
      lines.push(
        `${c}: ${ERROR_CODES[c as keyof typeof ERROR_CODES].hint} Check the tracker or client that sends these (a release, a proxy change).`,
      );
    return lines.join('\n');
  }
}

/** `http_errors`: refusals of a status class (503s, 4xx) above R per minute. */
export const httpErrorsRule: RuleDefinition<typeof httpErrorsSchema> = {
  type: 'http_errors',
  configSchema: httpErrorsSchema,
  readsIntake: true,
  create: (config, context) => new HttpErrors(config, context),
};
