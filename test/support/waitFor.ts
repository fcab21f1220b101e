/** Polling helpers for tests that wait on a real process or service. Each fails with what it waited for. */

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the first value `fn` gives that is not undefined; throws after `timeoutMs`. */
export async function waitForValue<T>(
  what: string | (() => string),
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await pause(everyMs);
  }
}

/** Resolves once `check` holds; throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(everyMs);
  }
}
