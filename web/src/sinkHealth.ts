import { clock, duration } from './format.js';
import type { SinkView } from './parse.js';

/** A sink failing this long is shown as "down since ...", not "backing off". */
export const DOWN_AFTER_MS = 60_000;

export type Tone = 'ok' | 'warn' | 'bad' | 'muted';

export interface SinkHealth {
  /** delivering, backing off, down since 14:02:11, fatal, stopped */
  label: string;
  tone: Tone;
  /** One line under the label: "up to date", "next try in 3 s"... */
  detail: string;
}

/**
 * When each sink started failing. The status gives the time of the current state only, and a
 * sink that backs off moves through `delivering` at every probe, so the page follows the
 * sink from answer to answer: failing from its first back-off until it delivers again.
 */
export class FailureTracker {
  private readonly since = new Map<string, number>();
  private readonly delivered = new Map<string, number>();

  update(sinks: readonly SinkView[], now: number): void {
    for (const s of sinks) {
      const before = this.delivered.get(s.name);
      const progressed = before !== undefined && s.delivered > before;
      this.delivered.set(s.name, s.delivered);
      if (s.state === 'backing_off' || s.state === 'fatal') {
        if (!this.since.has(s.name) || progressed) this.since.set(s.name, s.since ?? now);
      } else if (s.state === 'idle' || s.state === 'stopped' || progressed) {
        this.since.delete(s.name);
      }
    }
  }

  failingSince(name: string): number | undefined {
    return this.since.get(name);
  }
}

export function describeSink(s: SinkView, failingSince: number | undefined, now: number): SinkHealth {
  switch (s.state) {
    case 'idle':
      return { label: 'delivering', tone: 'ok', detail: s.lagEvents === 0 ? 'up to date' : `${s.lagEvents} waiting` };
    case 'delivering':
      if (failingSince !== undefined) return failing(failingSince, now, 'trying again now');
      return { label: 'delivering', tone: 'ok', detail: 'sending a batch' };
    case 'backing_off': {
      const next =
        s.nextAttemptAt !== undefined
          ? `next try in ${duration(Math.max(0, (s.nextAttemptAt - now) / 1000))}`
          : 'retrying';
      return failing(failingSince ?? s.since ?? now, now, next);
    }
    case 'fatal':
      return {
        label: 'fatal',
        tone: 'bad',
        detail: `stopped${s.since !== undefined ? ` at ${clock(s.since)}` : ''}: fix its config (see the error) and restart Beacon`,
      };
    case 'stopped':
      return { label: 'stopped', tone: 'muted', detail: 'Beacon is shutting down' };
    default:
      return { label: 'unknown', tone: 'muted', detail: 'this Beacon reports a state the page does not know' };
  }
}

function failing(since: number, now: number, detail: string): SinkHealth {
  if (now - since >= DOWN_AFTER_MS)
    return {
      label: `down since ${clock(since)}`,
      tone: 'bad',
      detail: `failing for ${duration((now - since) / 1000)}; ${detail}`,
    };
  return { label: 'backing off', tone: 'warn', detail };
}

/** The header's one-line summary over all sinks. */
export function overall(
  sinks: readonly SinkView[],
  tracker: FailureTracker,
  now: number,
): { text: string; tone: Tone; problems: number } {
  if (sinks.length === 0) return { text: 'No destinations configured', tone: 'muted', problems: 0 };
  const tones = sinks.map((s) => describeSink(s, tracker.failingSince(s.name), now).tone);
  const bad = tones.filter((t) => t === 'bad').length;
  const warn = tones.filter((t) => t === 'warn').length;
  const plural = (n: number) => (n === 1 ? 'destination' : 'destinations');
  const problems = bad + warn;
  if (bad > 0)
    return { text: `${bad} ${plural(bad)} down${warn > 0 ? `, ${warn} backing off` : ''}`, tone: 'bad', problems };
  if (warn > 0) return { text: `${warn} ${plural(warn)} backing off`, tone: 'warn', problems };
  return {
    text: sinks.length === 1 ? 'Destination healthy' : `All ${sinks.length} destinations healthy`,
    tone: 'ok',
    problems: 0,
  };
}
