import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import { runSingleProcess } from './single.js';
import { runPrimary } from './primary.js';

/**
 * Starts Beacon in the shape the config asks for: one process when `server.workers` is 1,
 * else a primary (log reader, dispatcher, API state) with one collector process per worker,
 * each appending to its own log partition so no two processes ever write the same file.
 */
export async function runBeacon(loaded: LoadedConfig): Promise<void> {
  const { config } = loaded;
  const workers = config.server.workers === 'auto' ? availableParallelism() : config.server.workers;
  if (workers <= 1 || !cluster.isPrimary) {
    await runSingleProcess(config);
    return;
  }
  await runPrimary(loaded.raw, config, workers);
}
