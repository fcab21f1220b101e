import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BeaconConfig } from '../config/schema.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';
import { appendEnriched, processEnrichChain } from '../enrich/chain.js';
import { createHttpServer } from '../sources/http/index.js';
import { createBrowserIntake } from '../sources/http/browserIntake.js';
import { processStrictCheck } from '../schemas/processSchemas.js';
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
  /** This collector's log partition (names its duplicate-id file); one process: p0. */
  partition?: string;
}) {
  const { config, metrics } = options;
  // Built (and the geo database loaded) here at start, shared with this process's queue sources.
  const enrich = processEnrichChain(config, metrics, options.logger, { partition: options.partition ?? 'p0' });
  const http = createHttpServer({
    config: config.server,
    emit: async (events) => {
      const appended = await appendEnriched(enrich, events, (kept) => options.append(kept));
      if (appended > 0) metrics.eventsAppended.inc(appended);
    },
    metrics,
    logger: options.logger,
    fallback: options.fallback,
    onUpgrade: options.onUpgrade,
    segment: config.segment,
    schemaCheck: processStrictCheck(config, metrics),
    browser: createBrowserIntake(config, { metrics, logger: options.logger }),
  });
  const address = await http.listen(config.server.port, config.server.host);
  return {
    address,
    /** Stops accepting and waits for in-flight requests (their appends) to finish. */
    drain: (timeoutMs: number) => http.drain(timeoutMs),
  };
}
