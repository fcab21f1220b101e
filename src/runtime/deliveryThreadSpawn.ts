import { Worker } from 'node:worker_threads';
import type { LoadedConfig } from '../config/load.js';
import type { DeliveryThreadData } from './threadLink.js';

/**
 * Starts the delivery thread's worker (deliveryThreadMain.ts) as early as possible: it loads
 * and checks its half of Beacon (sinks, store, dispatcher) while the main thread loads intake
 * and recovers the log writer; it opens the log reader when told `begin`. Kept apart from
 * deliveryThread.ts so that starting it loads nothing else.
 */
export function spawnDeliveryThread(loaded: LoadedConfig): Worker {
  const o = loaded.options;
  const data: DeliveryThreadData = {
    raw: loaded.raw,
    // The options a reload loads the config with, minus the callback (functions do not cross threads).
    reloadFrom: {
      source: o.source,
      env: o.env,
      cachePath: o.cachePath,
      fetchTimeoutMs: o.fetchTimeoutMs,
      fetchAttempts: o.fetchAttempts,
      fetchDeadlineMs: o.fetchDeadlineMs,
    },
  };
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./deliveryThreadMain${fromSource ? '.ts' : '.js'}`, import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData: data });
  // A worker thread does not inherit the main thread's module hooks: register tsx in it first (tests, `npm start` from source).
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(code, { eval: true, workerData: data });
}
