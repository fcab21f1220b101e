import { z } from 'zod';
import { duration } from '../config/units.js';

/**
 * Batching a sink's delivery loop uses: send when `maxEvents` are ready or `maxWaitMs` passed.
 * A sink whose destination pays a fixed cost per write (ClickHouse makes a part per INSERT)
 * sets its own defaults with `batchWithDefaults`.
 */
export function batchWithDefaults(defaults: { maxEvents: number; maxWaitMs: number }) {
  return z.strictObject({
    maxEvents: z.number().int().min(1).max(100_000).default(defaults.maxEvents),
    maxWaitMs: z.number().int().min(0).max(60_000).default(defaults.maxWaitMs),
  });
}

export const batchSchema = batchWithDefaults({ maxEvents: 500, maxWaitMs: 200 });

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
