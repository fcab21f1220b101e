import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BeaconConfig, EnrichConfig } from '../config/schema.js';
import { replaceNulCharacters } from '../event/nulCharacters.js';
import type { TrackedEvent } from '../event/trackedEvent.js';
import type { Metrics } from '../ops/metrics.js';
import { botStep } from './bot.js';
import { clockSkewStep } from './clockSkew.js';
import { geoStep, openGeoDatabase } from './geo.js';
import { IdMemory, idMemoryStep } from './idMemory.js';
import { ResendMarks } from '../event/resendMarks.js';
import { ipAnonymizeStep } from './ipAnonymize.js';
import { CorruptDeadLetter } from './corruption.js';
import { requestMemoryStep } from './requestMemory.js';
import { schemaStep } from './schemaCheck.js';
import { processSchemaSet } from '../schemas/processSchemas.js';
import { SchemaCounter } from '../schemas/schemaCounter.js';
import type { SchemaSet } from '../schemas/schemaSet.js';
import type { EnrichStep } from './step.js';
import { userAgentStep } from './userAgent.js';

/**
 * The enrichment chain: every event from every source passes it, in place, between the source
 * and the log append. Promises it keeps:
 * - Before any step, every U+0000 in the event's text becomes U+FFFD and is counted in
 *   `meta.nulReplaced` (src/event/nulCharacters.ts): no sink can refuse the event for it.
 * - `run` never throws. A step that fails on an event (a bug: steps skip or flag bad input
 *   themselves) loses only its own result; `meta.enrichFailed` names it, and the first such
 *   failure per step is logged.
 * - Order: schema check, clock skew, user agent, bot, geo, duplicate ids, duplicate requests, then IP
 *   anonymisation, so geo and the request fingerprint see the whole address and nothing after
 *   the chain does. If anonymisation itself fails the IP is
 *   removed (fail closed), unless `enrich.ip.anonymize` is `none`.
 * - With `enrich.bots.drop`, bot events are left out of the returned list and counted in
 *   `beacon_events_rejected_total{source,code="BEACON_E_BOT_DROPPED"}`; otherwise the same
 *   array comes back (no copy). Likewise `enrich.duplicates.action: drop` leaves out events
 *   flagged `meta.duplicate`, counted as BEACON_E_DUPLICATE_DROPPED. An event of a blind
 *   resend (`POST /batch?resend=1`) whose id the id memory already holds is always left out,
 *   counted the same way, whatever the action.
 * - Events the collector flagged `meta.corrupt` (their body failed its checksum) are counted in
 *   `beacon_enrich_corrupt_total{action}`; `enrich.corruption.action: drop` leaves them out
 *   (BEACON_E_CORRUPT_DROPPED), `dead-letter` moves them into `setAside` for
 *   `corruptDeadLetter` (BEACON_E_CORRUPT_DEAD_LETTERED), enriched like every other event.
 * - Everything costly (the mmdb file, regexes, parsers, caches) is set up once, at creation.
 */
export interface EnrichChain {
  readonly steps: readonly EnrichStep[];
  run(events: TrackedEvent[], setAside?: TrackedEvent[]): TrackedEvent[];
  /** Present with `enrich.corruption.action: dead-letter`: where `appendEnriched` writes the events `run` set aside. */
  readonly corruptDeadLetter?: CorruptDeadLetter;
  /** Call after appending `run`'s result: duplicate memories keep these events only if `durable`. */
  settled(events: readonly TrackedEvent[], durable: boolean): void;
  /** Call once at start with `PartitionWriter.takeRecoveredIds()`: the steps' memories learn what the log holds. */
  recovered(ids: readonly string[]): void;
  /**
   * Where this process's intakes mark events whose id the client gave, and events of a blind
   * resend, for the id step (src/event/resendMarks.ts). Hand it to every intake feeding `run`.
   */
  readonly marks: ResendMarks;
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
  /** `dataDir/dlq`: needed when `enrich.corruption.action` is `dead-letter`. */
  deadLetterDir?: string;
  /** Compiled `schemas`: invalid events are flagged `meta.invalid` (the bad stream). */
  schemas?: SchemaSet;
  /** The marks the intakes write (tests); unset: the chain makes its own. */
  marks?: ResendMarks;
}

export function createEnrichChain(config: EnrichConfig, deps: EnrichDeps = {}): EnrichChain {
  const steps: EnrichStep[] = [];
  const marks = deps.marks ?? new ResendMarks();
  if (deps.schemas)
    steps.push(
      schemaStep({ schemas: deps.schemas, counter: new SchemaCounter(deps.metrics, (t) => deps.schemas!.has(t)) }),
    );
  if (config.clockSkew) steps.push(clockSkewStep());
  if (config.ua.enabled)
    steps.push(userAgentStep({ cacheSize: config.ua.cacheSize, ...(deps.metrics ? { metrics: deps.metrics } : {}) }));
  if (config.bots.enabled) steps.push(botStep({ patterns: config.bots.patterns, cacheSize: config.bots.cacheSize }));
  if (config.geo.enabled)
    steps.push(geoStep({ reader: openGeoDatabase(config.geo.mmdb), cacheSize: config.geo.cacheSize }));
  const dup = config.duplicates;
  if (dup.enabled && dup.ids.enabled) {
    const memory = IdMemory.open({
      ttlMs: dup.ids.ttl,
      maxIds: dup.ids.maxIds,
      ...(deps.dedupeDir !== undefined ? { dir: deps.dedupeDir, partition: deps.partition ?? 'p0' } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    });
    steps.push(idMemoryStep({ memory, marks, ...(deps.metrics ? { metrics: deps.metrics } : {}) }));
  }
  if (dup.enabled && dup.memory.enabled) {
    steps.push(
      requestMemoryStep({
        expectedItems: dup.memory.expectedItems,
        falsePositiveRate: dup.memory.falsePositiveRate,
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
      }),
    );
  }
  if (config.ip.anonymize !== 'none') {
    steps.push(
      ipAnonymizeStep({
        mode: config.ip.anonymize,
        ipv4Prefix: config.ip.ipv4Prefix,
        ipv6Prefix: config.ip.ipv6Prefix,
      }),
    );
  }
  const dropBots = config.bots.enabled && config.bots.drop;
  const dropDuplicates = dup.enabled && dup.action === 'drop';
  const corruptAction = config.corruption.enabled ? config.corruption.action : 'flag';
  const setAsideCorrupt = corruptAction !== 'flag';
  const corruptCode = corruptAction === 'drop' ? 'BEACON_E_CORRUPT_DROPPED' : 'BEACON_E_CORRUPT_DEAD_LETTERED';
  if (corruptAction === 'dead-letter' && deps.deadLetterDir === undefined)
    throw new Error('enrich.corruption.action dead-letter needs deps.deadLetterDir');
  const corruptDeadLetter =
    corruptAction === 'dead-letter' ? new CorruptDeadLetter(deps.deadLetterDir!, deps.partition ?? 'p0') : undefined;
  const failClosed = config.ip.anonymize !== 'none';
  const reported = new Set<string>();
  const { metrics, logger } = deps;

  /** Flagged with action drop, or a repeat found in a blind resend (dropped always). */
  function isDroppedDuplicate(event: TrackedEvent): boolean {
    return event?.meta?.duplicate === true && (dropDuplicates || marks.isRepeatedResend(event));
  }

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
      logger?.warn(
        { step: step.name, err: (err as Error)?.message },
        'an enrichment step failed on an event; its result is left out (logged once per step)',
      );
    }
  }

  return {
    steps,
    marks,
    ...(corruptDeadLetter ? { corruptDeadLetter } : {}),
    settled(events: readonly TrackedEvent[], durable: boolean): void {
      for (const step of steps) {
        try {
          step.settled?.(events, durable);
        } catch (err) {
          logger?.warn(
            { step: step.name, err: (err as Error)?.message },
            'an enrichment step could not settle a batch',
          );
        }
      }
    },
    recovered(ids: readonly string[]): void {
      if (ids.length === 0) return;
      for (const step of steps) {
        try {
          step.recovered?.(ids);
        } catch (err) {
          logger?.warn(
            { step: step.name, err: (err as Error)?.message },
            'an enrichment step could not learn the events stored before the restart',
          );
        }
      }
    },
    run(events: TrackedEvent[], setAside?: TrackedEvent[]): TrackedEvent[] {
      let dropped = 0;
      let corrupt = 0;
      for (let i = 0; i < events.length; i++) {
        const event = events[i];
        if (typeof event !== 'object' || event === null) continue;
        try {
          if (typeof event.meta !== 'object' || event.meta === null) event.meta = {};
        } catch {
          continue;
        }
        try {
          // The intake rule for U+0000, for every source alike, before any step reads the event.
          replaceNulCharacters(event);
        } catch {
          // An exotic event (a throwing getter, frozen): the steps below still run; the log's checks decide.
        }
        for (let s = 0; s < steps.length; s++) {
          const step = steps[s]!;
          try {
            step.apply(event);
          } catch (err) {
            failed(step, event, err);
          }
        }
        if (event.meta?.corrupt === true) corrupt++;
        if (
          (dropBots && event.meta?.bot === true) ||
          isDroppedDuplicate(event) ||
          (setAsideCorrupt && event.meta?.corrupt === true)
        )
          dropped++;
      }
      for (const step of steps) step.flush?.();
      if (corrupt > 0) metrics?.enrichCorrupt.inc({ action: corruptAction }, corrupt);
      if (dropped === 0) return events;
      const kept: TrackedEvent[] = [];
      for (const event of events) {
        const code =
          dropBots && event?.meta?.bot === true
            ? 'BEACON_E_BOT_DROPPED'
            : isDroppedDuplicate(event)
              ? 'BEACON_E_DUPLICATE_DROPPED'
              : setAsideCorrupt && event?.meta?.corrupt === true
                ? corruptCode
                : undefined;
        if (code !== undefined)
          metrics?.eventsRejected.inc({
            source: typeof event.meta.source === 'string' ? event.meta.source : 'unknown',
            code,
          });
        else kept.push(event);
        if (code === 'BEACON_E_CORRUPT_DEAD_LETTERED') setAside?.push(event);
      }
      return kept;
    },
  };
}

/** One chain per config and metrics, so the HTTP collector and the queue sources of a process share caches and the one loaded mmdb. */
const perProcess = new WeakMap<BeaconConfig, WeakMap<Metrics, EnrichChain>>();

/** The process's chain for `config`, created (and the geo database loaded) on the first call. */
export function processEnrichChain(
  config: BeaconConfig,
  metrics: Metrics,
  logger: Logger,
  options: { partition?: string } = {},
): EnrichChain {
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
      deadLetterDir: join(config.dataDir, 'dlq'),
      partition: options.partition ?? 'p0',
      schemas: processSchemaSet(config),
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
  const setAside: TrackedEvent[] = [];
  const kept = chain.run(events, setAside);
  // Only dropped events (bots, repeats): nothing to store, and the client gets its usual answer.
  if (kept.length === 0 && setAside.length === 0) return 0;
  // Corrupt events set aside reach their dead letter durably before the client hears 2xx.
  const handled = setAside.length === 0 ? kept : [...kept, ...setAside];
  try {
    if (setAside.length > 0) await chain.corruptDeadLetter!.write(setAside);
    if (kept.length > 0) await append(kept);
  } catch (err) {
    chain.settled(handled, false);
    throw err;
  }
  chain.settled(handled, true);
  return kept.length;
}
