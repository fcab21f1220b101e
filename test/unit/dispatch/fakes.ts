import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { Clock } from '../../../src/ops/clock.js';
import type { Attempt, Sink } from '../../../src/sinks/sink.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';

/** A clock whose time only moves when the test says so; it records every sleep asked of it. */
export class FakeClock implements Clock {
  time = Date.UTC(2024, 4, 1, 10, 0, 0);
  readonly sleeps: number[] = [];
  private consumed = 0;
  private timers: { at: number; resolve: () => void }[] = [];
  private wakeSleepWaiters: (() => void)[] = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    for (const wake of this.wakeSleepWaiters.splice(0)) wake();
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = { at: this.time + ms, resolve };
      this.timers.push(timer);
      signal?.addEventListener('abort', () => {
        this.timers = this.timers.filter((t) => t !== timer);
        resolve();
      });
    });
  }

  /** Resolves with the next sleep the code under test asks for (in order, none skipped). */
  async nextSleep(): Promise<number> {
    while (this.sleeps.length <= this.consumed) await new Promise<void>((r) => this.wakeSleepWaiters.push(r));
    return this.sleeps[this.consumed++]!;
  }

  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.resolve();
  }
}

type Behaviour = (batch: readonly TrackedEvent[], attempt: number) => Promise<void> | void;

/** A sink whose every call is recorded and whose `deliver` does what the test scripts. */
export class FakeSink implements Sink {
  readonly accepted: TrackedEvent[] = [];
  readonly attempts: string[][] = [];
  opens = 0;
  closes = 0;
  openBehaviour: (n: number) => Promise<void> | void = () => {};

  constructor(public behaviour: Behaviour = () => {}) {}

  async open(): Promise<void> {
    this.opens++;
    await this.openBehaviour(this.opens);
  }

  async deliver(batch: readonly TrackedEvent[], _attempt?: Attempt): Promise<void> {
    this.attempts.push(batch.map((e) => e.id));
    await this.behaviour(batch, this.attempts.length);
    this.accepted.push(...batch);
  }

  async close(_signal?: AbortSignal): Promise<void> {
    this.closes++;
  }

  get acceptedIds(): string[] {
    return this.accepted.map((e) => e.id);
  }
}

export function makeEvents(
  n: number,
  from = 0,
  extra: (i: number) => Partial<TrackedEvent> = () => ({}),
): TrackedEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { id: `e${i}`, type: 'page', ts: Date.UTC(2024, 4, 1, 9, 0, 0) + i, props: { n: i }, meta: {}, ...extra(i) };
  });
}

/** Polls until `check` is true (or throws after `timeoutMs`: 20 s, as test/support/waitFor.ts, for a loaded CI machine). */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A pino logger whose JSON lines land in `lines`. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}
