import type { z } from 'zod';
import { formatSpan, iso } from '../format.js';
import { RuleBase, ruleConfigSchema, type AlertSignals, type Observation, type RuleDefinition } from './rule.js';

/** `for` is the quiet time T: no event made durable for this long fires the alert. */
export const noEventsSchema = ruleConfigSchema('no_events', 15 * 60_000, {});

type NoEventsConfig = z.output<typeof noEventsSchema>;

/**
 * "Is tracking broken?": no event has become durable (from any source) for `for`. The quiet
 * time counts from the last round in which the appended counter grew, or from Beacon's start.
 * A counter that went down (a collector restarted) is not an event; the round after it counts again.
 */
class NoEvents extends RuleBase<NoEventsConfig> {
  private last: number | undefined;
  private lastEventAt: number | undefined;
  private readonly startedAt = this.context.now();

  observe(signals: AlertSignals): Observation[] {
    if (!signals.intake) return [];
    const appended = signals.intake.appended;
    if (this.last !== undefined && appended > this.last) this.lastEventAt = signals.now;
    this.last = appended;
    const quietSince = this.lastEventAt ?? this.startedAt;
    const quiet = signals.now - quietSince;
    const active = this.lastEventAt !== signals.now;
    return [
      {
        key: '',
        active,
        since: quietSince,
        summary:
          this.lastEventAt === undefined
            ? `no events since Beacon started ${formatSpan(quiet)} ago`
            : active
              ? `no events for ${formatSpan(quiet)}`
              : 'events are arriving again',
        values: {
          quietFor: formatSpan(quiet),
          lastEventAt: this.lastEventAt === undefined ? 'none since start' : iso(this.lastEventAt),
          appendedSinceStart: appended,
          threshold: formatSpan(this.config.for),
        },
        hint: active
          ? [
              'Tracking may be broken: no event has been stored for this long.',
              'Check that the site or app still sends (its tracker snippet, a release, consent banners, an ad blocker rule) and that the proxy in front of Beacon forwards /t/ and /batch.',
              `Send one by hand and watch it arrive: curl -i ${this.context.baseUrl}/t/alert_test, then beacon tail${this.context.cliUrlArgs}`,
              'Refusals are counted in beacon_events_rejected_total (see docs/errors.md).',
            ].join('\n')
          : 'Nothing to do: events are being stored again.',
      },
    ];
  }
}

/** `no_events`: no events received for T (`for`). */
export const noEventsRule: RuleDefinition<typeof noEventsSchema> = {
  type: 'no_events',
  configSchema: noEventsSchema,
  readsIntake: true,
  create: (config, context) => new NoEvents(config, context),
};
