import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A client package loaded the first time a configured part asks for it, synchronously (the
 * parts' constructors are synchronous). Every part's module is imported at start-up (the
 * config schema is built from them), so a client imported at the top of its module was loaded,
 * and kept, by every Beacon thread whether or not its config used it: tens of MiB per thread
 * (docs/performance.md, "The delivery thread as the default"). For CommonJS packages; the
 * instance is the one an `import` of the same package would give (Node's require cache).
 */
export function lazyRequire<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}
