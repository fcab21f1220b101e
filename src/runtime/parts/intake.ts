import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { appendEnriched, processEnrichChain } from '../../enrich/chain.js';
import { createHttpServer } from '../../sources/http/index.js';
import { createBrowserIntake } from '../../sources/http/browserIntake.js';
import { processStrictCheck } from '../../schemas/processSchemas.js';
import type { UpgradeHandler } from '../../sources/http/server.js';
import { startQueueSources } from '../queueSources.js';
import { part, type Part } from './part.js';
import type { ProcessContext } from './processContext.js';

export interface IntakePart extends Part {
  address: AddressInfo;
}

/**
 * The part that takes events in: the HTTP collector and (with `queues`) the configured queue
 * sources, appending to a log (the whole log, this process's partition, or the writer the
 * delivery thread reads). Admin paths go to `fallback`. Every event passes the enrichment
 * chain (user agent, bot, geo, IP anonymisation) before the append, so the raw client IP never
 * reaches the log unless `enrich.ip.anonymize` is `none`. Its stop drains: no new connections,
 * requests under way answered (their appends durable), queue consumers stopped.
 */
export async function startIntake(
  ctx: ProcessContext,
  options: {
    append: (events: readonly TrackedEvent[]) => Promise<void>;
    fallback: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
    /** The `/live` WebSocket endpoint. */
    onUpgrade?: UpgradeHandler;
    /** This collector's log partition (names its duplicate-id file); one process: p0. */
    partition?: string;
    /** Run the queue sources here too: one process of an instance does (partition p0), so each queue has one consumer. */
    queues: boolean;
    /**
     * The ids of the last events the partition's writer found at open (`takeRecoveredIds`), for
     * the id memory; a function, so nothing here holds them after the start.
     */
    recoveredIds?: () => readonly string[];
  },
): Promise<IntakePart> {
  const { config, metrics, logger } = ctx;
  // Built (and the geo database loaded) here at start, and told what the log holds before any
  // source (HTTP or queue) feeds it.
  const enrich = processEnrichChain(config, metrics, logger, { partition: options.partition ?? 'p0' });
  if (options.recoveredIds) enrich.recovered(options.recoveredIds());
  const queues = options.queues
    ? await startQueueSources({
        config,
        emit: async (events) => {
          await options.append(events);
          metrics.eventsAppended.inc(events.length);
        },
        logger,
        metrics,
      })
    : undefined;
  const http = createHttpServer({
    config: config.server,
    emit: async (events) => {
      const appended = await appendEnriched(enrich, events, (kept) => options.append(kept));
      if (appended > 0) metrics.eventsAppended.inc(appended);
    },
    metrics,
    logger,
    fallback: options.fallback,
    onUpgrade: options.onUpgrade,
    segment: config.segment,
    snowplow: { config: config.snowplow, identity: config.enrich.identity },
    protocols: config,
    schemaCheck: processStrictCheck(config, metrics),
    browser: createBrowserIntake(config, { metrics, logger }),
    marks: enrich.marks,
  });
  const address = await http.listen(config.server.port, config.server.host);
  return {
    ...part('intake', 'intake', async () => {
      await Promise.all([http.drain(config.dispatch.shutdownTimeout), queues?.stop()]);
    }),
    address,
  };
}

/**
 * The line a one-process Beacon logs once it listens (intake and delivery in this process,
 * delivery on its own thread when `deliveryThread`).
 */
export function logListening(ctx: ProcessContext, intake: IntakePart, deliveryThread: boolean): void {
  const { config, logger } = ctx;
  const { address, port } = intake.address;
  logger.info(
    {
      port,
      host: address,
      dataDir: config.dataDir,
      sinks: config.sinks.map((s) => s.name),
      workers: 1,
      ...(deliveryThread ? { deliveryThread: true } : {}),
    },
    `beacon listening on ${config.server.tls ? 'https' : 'http'}://${address}:${port}` +
      (deliveryThread ? ' (delivery on its own thread)' : ''),
  );
}
