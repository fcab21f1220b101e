/**
 * Polling helpers for tests that wait on a real process or service. Each fails with what it
 * waited for, how long it waited, and (when `what` is a function) what it saw last: a CI
 * timeout must leave something to go on.
 */

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The default wait. CI runs two test files at once on 2 cores, each with its own Beacon,
 * services and sometimes Chromium: what takes 1 s on a quiet machine can take several there.
 * A wait only lasts this long when the test is failing anyway.
 */
export const WAIT_TIMEOUT_MS = 20_000;

/** `what` names the condition; as a function it is called at the timeout, so it can describe the state last seen. */
export type WaitDescription = string | (() => string);

function timedOut(what: WaitDescription, startedAt: number, checks: number): Error {
  const described = typeof what === 'string' ? what : what();
  return new Error(`timed out after ${Date.now() - startedAt} ms (${checks} checks) waiting for ${described}`);
}

/** Resolves with the first value `fn` gives that is not undefined; throws after `timeoutMs`. */
export async function waitForValue<T>(
  what: WaitDescription,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = WAIT_TIMEOUT_MS,
  everyMs = 50,
): Promise<T> {
  const startedAt = Date.now();
  for (let checks = 1; ; checks++) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - startedAt > timeoutMs) throw timedOut(what, startedAt, checks);
    await pause(everyMs);
  }
}

/** Resolves once `check` holds; throws after `timeoutMs`. */
export async function waitUntil(
  what: WaitDescription,
  check: () => Promise<boolean> | boolean,
  timeoutMs = WAIT_TIMEOUT_MS,
  everyMs = 50,
): Promise<void> {
  const startedAt = Date.now();
  for (let checks = 1; !(await check()); checks++) {
    if (Date.now() - startedAt > timeoutMs) throw timedOut(what, startedAt, checks);
    await pause(everyMs);
  }
}
