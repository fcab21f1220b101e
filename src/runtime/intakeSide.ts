import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BeaconConfig } from '../config/schema.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';
import { processEnrichChain } from '../enrich/chain.js';
import { createHttpServer } from '../sources/http/index.js';
import type { UpgradeHandler } from '../sources/http/server.js';

/**
 * The half of Beacon that takes events in: the HTTP collector appending to a log (the whole
 * log in one process, or this worker's partition). Admin paths go to `fallback`. Every event
 * passes the enrichment chain (user agent, bot, geo, IP anonymisation) before the append, so
 * the raw client IP never reaches the log unless `enrich.ip.anonymize` is `none`.
 */
export async function startIntakeSide(options: {
  config: BeaconConfig;
  append: (events: readonly TrackedEvent[]) => Promise<void>;
  logger: Logger;
  metrics: Metrics;
  fallback: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /** The `/live` WebSocket endpoint (or its IPC link in a collector process). */
  onUpgrade?: UpgradeHandler;
}) {
  const { config, metrics } = options;
  // Built (and the geo database loaded) here at start, shared with this process's queue sources.
  const enrich = processEnrichChain(config, metrics, options.logger);
  const http = createHttpServer({
    config: config.server,
    emit: async (events) => {
      const kept = enrich.run(events);
      // Only dropped bots: nothing to store, and the client gets its usual answer.
      if (kept.length === 0) return;
      await options.append(kept);
      metrics.eventsAppended.inc(kept.length);
    },
    metrics,
    logger: options.logger,
    fallback: options.fallback,
    onUpgrade: options.onUpgrade,
  });
  const address = await http.listen(config.server.port, config.server.host);
  return {
    address,
    /** Stops accepting and waits for in-flight requests (their appends) to finish. */
    drain: (timeoutMs: number) => http.drain(timeoutMs),
  };
}
