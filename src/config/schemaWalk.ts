import type { z } from 'zod';

/**
 * Reads zod 4 schema definitions to answer "which keys are allowed here?", for the
 * "did you mean ...?" hint and for mapping BEACON_ env variables (which are upper case)
 * onto camelCase config keys.
 */
interface ZodDefLike {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
}

function defOf(schema: z.ZodType): ZodDefLike {
  return (schema as unknown as { _zod: { def: ZodDefLike } })._zod.def;
}

/** Strips optional/default/pipe wrappers (a `z.preprocess` is a pipe from a transform: its shape is the pipe's output). */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const d = defOf(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = defOf(d.in).type === 'transform' && d.out ? d.out : d.in;
    else return s;
  }
}

/** The object schemas that may stand at this point, narrowed by a discriminator value in `input`. */
function objectCandidates(schema: z.ZodType, input: unknown): z.ZodType[] {
  const s = unwrap(schema);
  const d = defOf(s);
  if (d.type === 'object') return [s];
  if (d.type === 'union' && d.options) {
    const all = d.options.flatMap((o) => objectCandidates(o, input));
    if (d.discriminator && input && typeof input === 'object') {
      const wanted = (input as Record<string, unknown>)[d.discriminator];
      const match = all.filter((o) => {
        const lit = defOf(unwrap(defOf(o).shape?.[d.discriminator!] as z.ZodType));
        return (lit as unknown as { values?: unknown[] }).values?.includes(wanted);
      });
      if (match.length > 0) return match;
    }
    return all;
  }
  return [];
}

/** The schema found by following `path` from `schema`, using `input` to pick union branches. */
export function schemaAt(schema: z.ZodType, path: readonly PropertyKey[], input: unknown): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  let value: unknown = input;
  for (const key of path) {
    if (!s) return undefined;
    const d = defOf(unwrap(s));
    if (d.type === 'array' && d.element) {
      s = d.element;
    } else {
      const objects = objectCandidates(s, value);
      s = objects.map((o) => defOf(o).shape?.[String(key)]).find(Boolean);
    }
    value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  }
  return s;
}

/** Keys an object at `path` may hold. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[], input: unknown): string[] {
  const at = schemaAt(schema, path, input);
  if (!at) return [];
  let value: unknown = input;
  for (const key of path)
    value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return [...new Set(objectCandidates(at, value).flatMap((o) => Object.keys(defOf(o).shape ?? {})))];
}

export function isArrayAt(schema: z.ZodType, path: readonly PropertyKey[], input: unknown): boolean {
  const at = schemaAt(schema, path, input);
  return at !== undefined && defOf(unwrap(at)).type === 'array';
}

/** The literal values a discriminated union at `path` accepts for its discriminator. */
export function discriminatorValues(schema: z.ZodType, unionPath: readonly PropertyKey[], input: unknown): unknown[] {
  const at = schemaAt(schema, unionPath, input);
  if (!at) return [];
  const d = defOf(unwrap(at));
  if (d.type !== 'union' || !d.discriminator || !d.options) return [];
  return d.options.flatMap((o) => {
    const lit = defOf(unwrap(defOf(unwrap(o)).shape?.[d.discriminator!] as z.ZodType)) as unknown as {
      values?: unknown[];
    };
    return lit.values ?? [];
  });
}

/**
 * Every dotted key path under `schema` (objects only; arrays and unions of objects are not
 * descended), e.g. `server.limits.bodyBytes`. Used to check the docs name every key.
 */
export function keyPaths(schema: z.ZodType, prefix = ''): string[] {
  const s = unwrap(schema);
  const d = defOf(s);
  if (d.type !== 'object' || !d.shape) return [];
  return Object.entries(d.shape).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...keyPaths(child, path)];
  });
}
