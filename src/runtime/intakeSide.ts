import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BeaconConfig } from '../config/schema.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';
import { createHttpServer } from '../sources/http/index.js';

/**
 * The half of Beacon that takes events in: the HTTP collector appending to a log (the whole
 * log in one process, or this worker's partition). Admin paths go to `fallback`.
 */
export async function startIntakeSide(options: {
  config: BeaconConfig;
  append: (events: readonly TrackedEvent[]) => Promise<void>;
  logger: Logger;
  metrics: Metrics;
  fallback: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}) {
  const { config, metrics } = options;
  const http = createHttpServer({
    config: config.server,
    emit: async (events) => {
      await options.append(events);
      metrics.eventsAppended.inc(events.length);
    },
    metrics,
    logger: options.logger,
    fallback: options.fallback,
  });
  const address = await http.listen(config.server.port, config.server.host);
  return {
    address,
    /** Stops accepting and waits for in-flight requests (their appends) to finish. */
    drain: (timeoutMs: number) => http.drain(timeoutMs),
  };
}
