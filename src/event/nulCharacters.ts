import type { TrackedEvent } from './trackedEvent.js';

/**
 * The intake rule for U+0000 (NUL): every NUL in an event's text (ids, type, url, ua, props and
 * meta, keys as well as values) becomes U+FFFD, the replacement character, and
 * `meta.nulReplaced` counts how many were replaced.
 *
 * Why replace rather than refuse: the services Beacon's compatible endpoints stand in for
 * (Segment and the others) take such strings, so refusing would lose events their SDKs count
 * as sent; and keeping the NUL would lose them later, for good: PostgreSQL's text and jsonb
 * cannot hold U+0000 (SQLSTATE 22P05), so the postgres sink would dead-letter the event after
 * the client was told 2xx. U+FFFD keeps the length and position of every character, and the
 * count in `meta` says the event was touched. It runs once for every event from every source
 * (the enrichment chain calls it before any step, src/enrich/chain.ts), so no path differs.
 */

const NUL = '\u0000';
const REPLACEMENT = '\uFFFD';

/** Replaces every NUL in `event` in place; returns how many were replaced (0: the event is untouched). */
export function replaceNulCharacters(event: TrackedEvent): number {
  // Nearly every event holds no NUL: find that out without allocating, then walk only when needed.
  if (!holdsNul(event)) return 0;
  let replaced = 0;
  const record = event as unknown as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (typeof value === 'string') {
      if (value.includes(NUL)) {
        record[key] = value.replaceAll(NUL, REPLACEMENT);
        replaced += count(value);
      }
    } else if (typeof value === 'object' && value !== null) {
      replaced += replaceIn(value as object);
    }
  }
  if (replaced > 0) event.meta.nulReplaced = replaced;
  return replaced;
}

/** Scratch stack of holdsNul, reused so the common case (no NUL) allocates nothing. */
const pending: object[] = [];

/** True when any string in `root` (values or keys, at any depth) holds a NUL. */
function holdsNul(root: object): boolean {
  pending.length = 0;
  pending.push(root);
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const value: unknown = node[i];
        if (typeof value === 'string') {
          if (value.includes(NUL)) return stop();
        } else if (typeof value === 'object' && value !== null) {
          pending.push(value);
        }
      }
      continue;
    }
    // Events are plain JSON objects: for-in sees their own keys (nothing enumerable is inherited).
    const record = node as Record<string, unknown>;
    for (const key in record) {
      const value = record[key];
      if (typeof value === 'string') {
        if (value.includes(NUL)) return stop();
      } else if (typeof value === 'object' && value !== null) {
        pending.push(value);
      }
      if (key.includes(NUL)) return stop();
    }
  }
  return false;
}

function stop(): true {
  pending.length = 0;
  return true;
}

function count(text: string): number {
  let n = 0;
  for (let i = text.indexOf(NUL); i !== -1; i = text.indexOf(NUL, i + 1)) n++;
  return n;
}

/**
 * Walks a JSON tree without recursion (its depth is the client's choice), fixing values and
 * keys. A key that holds NUL is renamed; should the new name be taken, U+FFFD is added until
 * it is free, so no value is lost.
 */
function replaceIn(root: object): number {
  let replaced = 0;
  const stack: object[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const value: unknown = node[i];
        if (typeof value === 'string') {
          if (value.includes(NUL)) {
            node[i] = value.replaceAll(NUL, REPLACEMENT);
            replaced += count(value);
          }
        } else if (typeof value === 'object' && value !== null) {
          stack.push(value);
        }
      }
      continue;
    }
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      let value = record[key];
      if (typeof value === 'string' && value.includes(NUL)) {
        value = value.replaceAll(NUL, REPLACEMENT);
        replaced += count(record[key] as string);
        record[key] = value;
      } else if (typeof value === 'object' && value !== null) {
        stack.push(value);
      }
      if (key.includes(NUL)) {
        let renamed = key.replaceAll(NUL, REPLACEMENT);
        while (Object.hasOwn(record, renamed)) renamed += REPLACEMENT;
        delete record[key];
        Object.defineProperty(record, renamed, { value, writable: true, enumerable: true, configurable: true });
        replaced += count(key);
      }
    }
  }
  return replaced;
}
