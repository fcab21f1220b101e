import { SinkError, type Attempt, type Sink } from '../sinks/sink.js';

/**
 * The deadlines the loop keeps for a sink. They are wall-clock timers, not the `Clock` seam:
 * they bound real I/O, and a test's fake clock would never let them fire. They are cleared as
 * soon as what they bound ends, so they keep the process alive no longer than that.
 *
 * - An attempt past `attemptMs` has its signal aborted and fails with the sink's `timedOut`
 *   error at once; whatever the sink does afterwards is ignored (its result is dropped, its
 *   rejection caught), so a stuck attempt cannot hold the loop.
 * - A `close` past `closeMs` (when the sink gives one) has its signal aborted (the sink destroys its connections) and is
 *   no longer waited for.
 */
export async function runAttempt<T>(sink: Sink, describe: string, work: (attempt: Attempt) => Promise<T>): Promise<T> {
  const control = new AbortController();
  const ms = sink.deadlines?.attemptMs;
  if (ms === undefined) return work({ signal: control.signal });
  const running = work({ signal: control.signal });
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err =
        sink.deadlines?.timedOut?.(ms) ??
        new SinkError('reconnect', `${describe}: no answer within ${ms} ms`, { errorType: 'timeout' });
      control.abort(err);
      running.catch(() => {});
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Closes the sink; past its close deadline aborts the close (forcing it) and stops waiting. */
export async function closeWithin(sink: Sink): Promise<'closed' | 'forced'> {
  const control = new AbortController();
  const ms = sink.deadlines?.closeMs;
  if (ms === undefined) {
    await sink.close(control.signal);
    return 'closed';
  }
  const closing = sink.close(control.signal).then(() => 'closed' as const);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'forced'>((resolve) => {
    timer = setTimeout(() => resolve('forced'), ms);
  });
  try {
    const outcome = await Promise.race([closing, expired]);
    if (outcome === 'forced') {
      closing.catch(() => {});
      control.abort(new Error(`close did not finish within ${ms} ms`));
    }
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}
