import { z } from 'zod';

/** Fields every queue source config has, whatever its type. */
export const baseSourceFields = {
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
  /** How message payloads are read: a JSON event, a JSON array, NDJSON, or the Pushtech line format. */
  format: z.enum(['auto', 'json', 'ndjson', 'line']).default('auto'),
};

/** Builds a source's strict config schema: the base fields plus the source's own, keyed by `type`. */
export function sourceConfigSchema<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({ type: z.literal(type), ...baseSourceFields, ...shape });
}
