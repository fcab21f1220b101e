/**
 * Readers of an in-memory log waiting for the next append: each wait ends at the next
 * `wakeAll()` (an append, or the log closing), after `ms`, or when its signal aborts.
 * Shared by MemoryLog (./memoryLog.ts) and the bench's RecordLog (bench/recordLog.ts).
 */
export class AppendWaiters {
  private readonly waiters = new Set<() => void>();

  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
