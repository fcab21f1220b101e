import type { Part } from './part.js';

/**
 * The log as a part: closed last (the `log` stage: cursor positions persisted), or, where the
 * writer is apart from the reader (the delivery thread's shape), the writer in the `logWriter`
 * stage: synced and closed after intake stopped, before delivery finishes.
 */
export function logPart(log: { close(): Promise<void> }, stage: 'log' | 'logWriter' = 'log'): Part {
  return { name: stage === 'log' ? 'log' : 'log writer', stage, stop: () => log.close() };
}
