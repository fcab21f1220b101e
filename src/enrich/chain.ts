import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BeaconConfig, EnrichConfig } from '../config/schema.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';
import { botStep } from './bot.js';
import { clockSkewStep } from './clockSkew.js';
import { geoStep, openGeoDatabase } from './geo.js';
import { IdMemory, idMemoryStep } from './idMemory.js';
import { ipAnonymizeStep } from './ipAnonymize.js';
import { requestMemoryStep } from './requestMemory.js';
import type { EnrichStep } from './step.js';
import { userAgentStep } from './userAgent.js';

/**
 * The enrichment chain: every event from every source passes it, in place, between the source
 * and the log append. Promises it keeps:
 * - `run` never throws. A step that fails on an event (a bug: steps skip or flag bad input
 *   themselves) loses only its own result; `meta.enrichFailed` names it, and the first such
 *   failure per step is logged.
 * - Order: clock skew, user agent, bot, geo, duplicate ids, duplicate requests, then IP
 *   anonymisation, so geo and the request fingerprint see the whole address and nothing after
 *   the chain does. If anonymisation itself fails the IP is
 *   removed (fail closed), unless `enrich.ip.anonymize` is `none`.
 * - With `enrich.bots.drop`, bot events are left out of the returned list and counted in
 *   `beacon_events_rejected_total{source,code="BEACON_E_BOT_DROPPED"}`; otherwise the same
 *   array comes back (no copy). Likewise `enrich.duplicates.action: drop` leaves out events
 *   flagged `meta.duplicate`, counted as BEACON_E_DUPLICATE_DROPPED.
 * - Everything costly (the mmdb file, regexes, parsers, caches) is set up once, at creation.
 */
export interface EnrichChain {
  readonly steps: readonly EnrichStep[];
  run(events: TrackedEvent[]): TrackedEvent[];
  /** Call after appending `run`'s result: duplicate memories keep these events only if `durable`. */
  settled(events: readonly TrackedEvent[], durable: boolean): void;
}

export interface EnrichDeps {
  metrics?: Metrics;
  logger?: Logger;
  /** Where the id memory persists (`dataDir/dedupe`); unset: it is kept in memory only. */
  dedupeDir?: string;
  /** This collector process's partition (`p0` in one process): names its id file. */
  partition?: string;
  /** The id memory's clock (tests). */
  now?: () => number;
}

export function createEnrichChain(config: EnrichConfig, deps: EnrichDeps = {}): EnrichChain {
  const steps: EnrichStep[] = [];
  if (config.clockSkew) steps.push(clockSkewStep());
  if (config.ua.enabled) steps.push(userAgentStep({ cacheSize: config.ua.cacheSize, ...(deps.metrics ? { metrics: deps.metrics } : {}) }));
  if (config.bots.enabled) steps.push(botStep({ patterns: config.bots.patterns, cacheSize: config.bots.cacheSize }));
  if (config.geo.enabled) steps.push(geoStep({ reader: openGeoDatabase(config.geo.mmdb), cacheSize: config.geo.cacheSize }));
  const dup = config.duplicates;
  if (dup.enabled && dup.ids.enabled) {
    const memory = IdMemory.open({
      ttlMs: dup.ids.ttl,
      maxIds: dup.ids.maxIds,
      ...(deps.dedupeDir !== undefined ? { dir: deps.dedupeDir, partition: deps.partition ?? 'p0' } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    });
    steps.push(idMemoryStep({ memory, ...(deps.metrics ? { metrics: deps.metrics } : {}) }));
  }
  if (dup.enabled && dup.memory.enabled) {
    steps.push(requestMemoryStep({ expectedItems: dup.memory.expectedItems, falsePositiveRate: dup.memory.falsePositiveRate, ...(deps.metrics ? { metrics: deps.metrics } : {}) }));
  }
  if (config.ip.anonymize !== 'none') {
    steps.push(ipAnonymizeStep({ mode: config.ip.anonymize, ipv4Prefix: config.ip.ipv4Prefix, ipv6Prefix: config.ip.ipv6Prefix }));
  }
  const dropBots = config.bots.enabled && config.bots.drop;
  const dropDuplicates = dup.enabled && dup.action === 'drop';
  const failClosed = config.ip.anonymize !== 'none';
  const reported = new Set<string>();
  const { metrics, logger } = deps;

  function failed(step: EnrichStep, event: TrackedEvent, err: unknown): void {
    try {
      if (step.name === 'ip' && failClosed) event.ip = undefined;
      const meta = event.meta;
      meta.enrichFailed = typeof meta.enrichFailed === 'string' ? `${meta.enrichFailed},${step.name}` : step.name;
    } catch {
      // A frozen or exotic event: nothing more can be written to it; the log's own checks decide.
    }
    if (!reported.has(step.name)) {
      reported.add(step.name);
      logger?.warn({ step: step.name, err: (err as Error)?.message }, 'an enrichment step failed on an event; its result is left out (logged once per step)');
    }
  }

  return {
    steps,
    settled(events: readonly TrackedEvent[], durable: boolean): void {
      for (const step of steps) {
        try {
          step.settled?.(events, durable);
        } catch (err) {
          logger?.warn({ step: step.name, err: (err as Error)?.message }, 'an enrichment step could not settle a batch');
        }
      }
    },
    run(events: TrackedEvent[]): TrackedEvent[] {
      let dropped = 0;
      for (let i = 0; i < events.length; i++) {
        const event = events[i];
        if (typeof event !== 'object' || event === null) continue;
        try {
          if (typeof event.meta !== 'object' || event.meta === null) event.meta = {};
        } catch {
          continue;
        }
        for (let s = 0; s < steps.length; s++) {
          const step = steps[s]!;
          try {
            step.apply(event);
          } catch (err) {
            failed(step, event, err);
          }
        }
        if ((dropBots && event.meta?.bot === true) || (dropDuplicates && event.meta?.duplicate === true)) dropped++;
      }
      for (const step of steps) step.flush?.();
      if (dropped === 0) return events;
      const kept: TrackedEvent[] = [];
      for (const event of events) {
        const code = dropBots && event?.meta?.bot === true ? 'BEACON_E_BOT_DROPPED' : dropDuplicates && event?.meta?.duplicate === true ? 'BEACON_E_DUPLICATE_DROPPED' : undefined;
        if (code !== undefined) metrics?.eventsRejected.inc({ source: typeof event.meta.source === 'string' ? event.meta.source : 'unknown', code });
        else kept.push(event);
      }
      return kept;
    },
  };
}

/** One chain per config and metrics, so the HTTP collector and the queue sources of a process share caches and the one loaded mmdb. */
const perProcess = new WeakMap<BeaconConfig, WeakMap<Metrics, EnrichChain>>();

/** The process's chain for `config`, created (and the geo database loaded) on the first call. */
export function processEnrichChain(config: BeaconConfig, metrics: Metrics, logger: Logger, options: { partition?: string } = {}): EnrichChain {
  let byMetrics = perProcess.get(config);
  if (byMetrics === undefined) perProcess.set(config, (byMetrics = new WeakMap()));
  let chain = byMetrics.get(metrics);
  if (chain === undefined) {
    // The partition names this process's id file; one process (and the first caller there may
    // be the queue sources) is p0.
    chain = createEnrichChain(config.enrich, {
      metrics,
      logger: logger.child({ component: 'enrich' }),
      dedupeDir: join(config.dataDir, 'dedupe'),
      partition: options.partition ?? 'p0',
    });
    byMetrics.set(metrics, chain);
  }
  return chain;
}

/**
 * Enriches `events`, appends what is kept, and tells the chain whether the append made them
 * durable, so the duplicate memories only remember events that were accepted. Resolves with
 * the number appended; rejects as `append` does.
 */
export async function appendEnriched(
  chain: EnrichChain,
  events: TrackedEvent[],
  append: (events: TrackedEvent[]) => Promise<void>,
): Promise<number> {
  const kept = chain.run(events);
  // Only dropped events (bots, repeats): nothing to store, and the client gets its usual answer.
  if (kept.length === 0) return 0;
  try {
    await append(kept);
  } catch (err) {
    chain.settled(kept, false);
    throw err;
  }
  chain.settled(kept, true);
  return kept.length;
}
