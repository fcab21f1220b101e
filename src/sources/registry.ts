import type { SourceDefinition } from './source.js';

/**
 * Every queue source type Beacon knows (the HTTP collector is not listed: it is always on).
 * Adding a source is one folder under src/sources/ and one line here; the `sources:` config
 * schema is built from this list.
 */
export const SOURCE_DEFINITIONS: readonly SourceDefinition[] = [];

export function findSourceDefinition(type: string): SourceDefinition | undefined {
  return SOURCE_DEFINITIONS.find((d) => d.type === type);
}
