import { validateConfig } from '../config/load.js';
import { applyHeapGrowth } from '../ops/heapGrowth.js';
import { runCollectorWorker } from './collectorWorker.js';

// Entry point of a collector process forked by the primary. The primary passes the config
// document it loaded (after env overrides), so every process runs the same config even when
// it came from a URL that has changed since.
const raw = JSON.parse(process.env.BEACON_INTERNAL_CONFIG ?? '{}') as Record<string, unknown>;
const partition = process.env.BEACON_INTERNAL_PARTITION ?? 'p0';
const workers = Number(process.env.BEACON_INTERNAL_WORKERS ?? 1);
const config = validateConfig(raw, '(from primary)');
applyHeapGrowth(config.server.heapGrowthPercent);
runCollectorWorker(config, partition, workers).catch((err: unknown) => {
  console.error(`collector ${partition} failed to start: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
