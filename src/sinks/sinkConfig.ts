import { z } from 'zod';
import { duration } from '../config/units.js';

/** The most batches one sink may have in flight, whatever its type allows: past a few, a slow destination only gets more requests queued at once, not more throughput. */
export const MAX_IN_FLIGHT = 16;

/**
 * How many batches a sink type may deliver at once (`batch.inFlight`): its default and the most
 * a user may set. `ONE_AT_A_TIME` (the default of `batchWithDefaults`) for a sink whose
 * `deliver` must not run twice at once (see `Sink.deliver`).
 */
export interface InFlightAllowance {
  default: number;
  max: number;
}

export const ONE_AT_A_TIME: InFlightAllowance = { default: 1, max: 1 };

/** The batching every sink gets unless its definition says otherwise. */
export const DEFAULT_BATCH = { maxEvents: 500, maxWaitMs: 200 };

/**
 * Batching a sink's delivery loop uses: send when `maxEvents` are ready or `maxWaitMs` passed;
 * keep up to `inFlight` batches delivering at once where the sink type allows it. A sink whose
 * destination pays a fixed cost per write (ClickHouse makes a part per INSERT) sets its own
 * defaults; a sink whose `deliver` may run several times at once passes its `inFlight` allowance.
 */
export function batchWithDefaults(
  defaults: { maxEvents: number; maxWaitMs: number },
  inFlight: InFlightAllowance = ONE_AT_A_TIME,
) {
  const tooMany =
    inFlight.max === 1
      ? 'this sink type delivers one batch at a time (its deliveries must not overlap); leave batch.inFlight at 1'
      : `at most ${inFlight.max} batches in flight`;
  return z.strictObject({
    maxEvents: z.number().int().min(1).max(100_000).default(defaults.maxEvents),
    maxWaitMs: z.number().int().min(0).max(60_000).default(defaults.maxWaitMs),
    /** Batches delivered at once; their positions are still committed in log order. */
    inFlight: z.number().int().min(1).max(inFlight.max, tooMany).default(inFlight.default),
  });
}

export const batchSchema = batchWithDefaults(DEFAULT_BATCH);

/** Fields every sink config has, whatever its type. */
export const baseSinkFields = {
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
  codec: z.enum(['json', 'line']).default('json'),
  batch: batchSchema.prefault({}),
  /** Per-sink override of dispatch.maxFailoverDuration. */
  maxFailoverDuration: duration().optional(),
  /** Only deliver events whose type is listed (all types when absent). */
  types: z.array(z.string()).optional(),
  /**
   * The bad stream (events flagged `meta.invalid` by schema validation, docs/schemas.md):
   * `exclude` leaves them out, `only` takes nothing else (a bad-rows sink), `include` takes
   * every event.
   */
  badStream: z.enum(['exclude', 'only', 'include']).default('exclude'),
};

/** Builds a sink's strict config schema: the base fields plus the sink's own, keyed by `type`. */
export function sinkConfigSchema<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({ type: z.literal(type), ...baseSinkFields, ...shape });
}

export type BaseSinkConfig = z.output<z.ZodObject<typeof baseSinkFields>> & { type: string };
