import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import type { Emit } from '../../src/sources/source.js';
import { WAIT_TIMEOUT_MS } from './waitFor.js';

/**
 * An `Emit` for source tests: records every call, and can be told to refuse (as a full or
 * closed log does) or to hold calls until the test releases them (a slow fsync).
 */
export interface RecordingEmit {
  readonly emit: Emit;
  /** Each emit call's events, in call order (recorded when the call is made). */
  readonly calls: TrackedEvent[][];
  /** Events of calls that resolved (the ones a source may acknowledge). */
  readonly durable: TrackedEvent[];
  /** Every event passed to emit, across calls. */
  readonly events: TrackedEvent[];
  /** Makes every following call reject with `err` (undefined: resolve again). */
  failWith(err: unknown): void;
  /** Holds every following call until `release()`. */
  hold(): void;
  /** Resolves (or rejects, per failWith) every held call and stops holding. */
  release(): void;
  /** Calls currently held. */
  readonly pending: number;
  /** Resolves once at least `count` calls are held. */
  waitForPending(count: number, timeoutMs?: number): Promise<void>;
}

export function createRecordingEmit(): RecordingEmit {
  const calls: TrackedEvent[][] = [];
  const durable: TrackedEvent[] = [];
  let failure: unknown;
  let holding = false;
  let held: Array<() => void> = [];
  const pendingWaiters: Array<{ count: number; resolve: () => void }> = [];

  function notifyPending() {
    for (const waiter of [...pendingWaiters]) {
      if (held.length >= waiter.count) {
        pendingWaiters.splice(pendingWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  const emit: Emit = (events) => {
    calls.push(events);
    const settle = (resolve: () => void, reject: (err: unknown) => void) => {
      if (failure !== undefined) return reject(failure);
      durable.push(...events);
      resolve();
    };
    return new Promise<void>((resolve, reject) => {
      if (!holding) return settle(resolve, reject);
      held.push(() => settle(resolve, reject));
      notifyPending();
    });
  };

  return {
    emit,
    calls,
    durable,
    get events() {
      return calls.flat();
    },
    failWith(err) {
      failure = err;
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      const toRelease = held;
      held = [];
      for (const run of toRelease) run();
    },
    get pending() {
      return held.length;
    },
    waitForPending(count, timeoutMs = WAIT_TIMEOUT_MS) {
      if (held.length >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} held emit calls within ${timeoutMs} ms, have ${held.length}`)),
          timeoutMs,
        );
        pendingWaiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}
