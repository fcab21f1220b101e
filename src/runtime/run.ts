import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import { spawnDeliveryThread } from './deliveryThreadSpawn.js';

/**
 * Starts Beacon in the shape the config asks for: one process when `server.workers` is 1
 * (its delivery on a thread of its own with `server.deliveryThread`), else a primary (log
 * reader, dispatcher, API state) with one collector process per worker, each appending to its
 * own log partition so no two processes ever write the same file. Each shape's code is loaded
 * only when it runs.
 */
export async function runBeacon(loaded: LoadedConfig): Promise<void> {
  const { config } = loaded;
  // On a shared log there are no partitions to split between processes: one process, scaled out with --role collector.
  if (config.log.type !== 'local') {
    (await import('./sharedLog.js')).refuseWorkersOnSharedLog(config, 'all');
    await (await import('./assemble.js')).runSingleThread(config, loaded.options);
    return;
  }
  const workers = config.server.workers === 'auto' ? autoWorkers(availableParallelism()) : config.server.workers;
  if (workers <= 1 || !cluster.isPrimary) {
    if (deliveryThread(config.server.deliveryThread, availableParallelism())) {
      // Started first: the thread loads its half of the code while this one loads the other.
      const thread = spawnDeliveryThread(loaded);
      await (await import('./deliveryThread.js')).runWithDeliveryThread(loaded, thread);
    } else {
      await (await import('./assemble.js')).runSingleThread(config, loaded.options);
    }
    return;
  }
  await (await import('./primary.js')).runPrimary(loaded.raw, config, workers, loaded.options);
}

/**
 * `workers: auto`: one collector per core but one, so the primary (which reads the log and
 * runs every sink) has a core of its own; on one or two cores, a single process.
 *
 * Measured on 2 cores (docs/performance.md, 2026-11-24): the primary plus two collectors
 * spent 45-50 µs of CPU per pixel request against 28 µs for one process (IPC per group commit,
 * three processes sharing two cores), and held 370 MiB against 130 MiB. One process served
 * pixels ~10-40% faster; only large batches went faster with two collectors (~25%).
 */
export function autoWorkers(cores: number): number {
  return Math.max(1, cores - 1);
}

/**
 * `server.deliveryThread: auto`: the single process delivers on a second thread when there is
 * a second core for it (docs/performance.md has the measurements behind this default).
 */
export function deliveryThread(setting: 'auto' | 'on' | 'off', cores: number): boolean {
  return setting === 'on' || (setting === 'auto' && cores >= 2);
}
