import { z } from 'zod';

/**
 * The `schemas` config section: optional JSON Schemas, one per event type, that an event's
 * `props` must match (docs/schemas.md). Files are read and compiled once, when Beacon starts;
 * relative paths are taken from the working directory, like `dataDir`.
 */
export const schemasSchema = z.strictObject({
  /**
   * A directory of `<type>.json` files, each the schema of the event type it is named after.
   * Files whose name starts with `_` are loaded for `$ref`s only and check no type.
   */
  dir: z.string().min(1).optional(),
  /** Event type -> schema file; wins over a file of the same type in `dir`. */
  types: z.record(z.string().min(1), z.string().min(1)).default({}),
  /**
   * `bad`: invalid events are written, flagged `meta.invalid`, and go only to sinks with
   * `badStream: only` or `include`. `strict`: HTTP intake refuses them (400, or per event in a batch).
   */
  mode: z.enum(['bad', 'strict']).default('bad'),
  /** An event whose type has no schema counts as invalid (otherwise it passes unchecked). */
  requireSchema: z.boolean().default(false),
});

export type SchemasConfig = z.output<typeof schemasSchema>;
