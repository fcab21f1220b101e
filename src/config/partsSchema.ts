import { z } from 'zod';

/** A registry entry as the config schema sees it: a part whose strict config schema is keyed by `type`. */
interface HasConfigSchema {
  readonly configSchema: z.ZodObject;
}

/** The `type` a config schema's literal names (`string` for a schema not known yet), so a definition's `type` must match its schema's. */
export type TypeOf<S extends z.ZodObject> = z.output<S> extends { type: infer T extends string } ? T : string;

/** A registry: its definitions as a tuple (`as const`), so each keeps its own config type. */
export type Registry = readonly [HasConfigSchema, ...HasConfigSchema[]];

/** The registry's config schemas, element by element. */
export type ConfigSchemasOf<D extends Registry> = { -readonly [K in keyof D]: D[K]['configSchema'] };

/** The parsed config of any part in the registry: the union of each definition's config type. */
export type ConfigOf<D extends Registry> = z.output<D[number]['configSchema']>;

/**
 * The discriminated union on `type` of a registry's config schemas. Its output type is
 * `ConfigOf<D>`: the config of each part stays typed after the union parses it.
 */
export function registryUnion<const D extends Registry>(definitions: D) {
  // Array.prototype.map cannot say that it maps a tuple element by element; ConfigSchemasOf is that mapping.
  const schemas = definitions.map((d) => d.configSchema) as ConfigSchemasOf<D>;
  return z.discriminatedUnion('type', schemas);
}

/** A list of named, typed parts (sinks or sources) from a registry's union; a name used twice is refused. */
export function namedPartsSchema<T extends z.ZodType<{ name: string }>>(kind: 'sink' | 'source', union: T) {
  return z.array(union).superRefine((parts, ctx) => {
    const seen = new Set<string>();
    parts.forEach((part, i) => {
      if (seen.has(part.name))
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `${kind} name "${part.name}" is used twice; names must be unique`,
        });
      seen.add(part.name);
    });
  });
}
