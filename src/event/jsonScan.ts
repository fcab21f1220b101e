import type { ErrorCode } from '../errors/codes.js';

/** A bound crossed: the code and message the intake answers with (the shape of src/event/rejection.ts's Rejection). */
export interface JsonBreach {
  code: ErrorCode;
  message: string;
}

/**
 * A scan of JSON bytes, before `JSON.parse` ever sees them, that enforces what the parse would
 * otherwise pay for in full: nesting depth, the number of elements, and the number of events
 * a batch holds. `JSON.parse` of `[` x 4M then `]` x 4M blocks the event loop for seconds and
 * allocates hundreds of MB; of `[{},{},...]` x 2.8M, the same. This scan stops at the first
 * byte that crosses a bound, so such a body costs a few hundred bytes (depth) or a few hundred
 * KB (elements) of scanning, never a parse.
 *
 * It is fed chunk by chunk as the bytes arrive (or as zlib inflates them) and keeps its state
 * across chunks. It does not validate JSON: it only follows strings (quotes and backslash
 * escapes), brackets and commas, which is all the bounds need; `JSON.parse` still judges
 * validity afterwards. Anything it cannot read (bytes outside strings that are not structure)
 * is treated as part of a scalar, so invalid input can only make it count more, never less.
 *
 * What it counts:
 * - depth: `{` and `[` open a level, `}` and `]` close one (a flat object is depth 1);
 * - elements: every array element and object member anywhere in the document (a key and its
 *   value are one member), plus every top-level value (an NDJSON body has several);
 * - batch events: the elements of a top-level array, or the number of top-level objects
 *   (NDJSON), which is what `/batch` and the queue sources turn into events.
 */
export interface JsonBounds {
  /** Deepest nesting of objects and arrays (server.limits.jsonDepth). */
  depth: number;
  /** Most array elements plus object members in one body (server.limits.jsonElements). */
  elements: number;
  /** When set: most events in a top-level array or NDJSON body (server.limits.batchEvents). */
  batchEvents?: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

export class JsonScanner {
  private depth = 0;
  private inString = false;
  /** Inside a string, the previous byte was an escaping backslash (possibly at the end of the last chunk). */
  private escaped = false;
  /** The next value to start is a new element or member (after `[`, `{` or `,`), so it is counted. */
  private pending = false;
  private elements = 0;
  private batch = 0;
  /** The top-level value now open is an array: its direct elements are the batch's events. */
  private topArray = false;
  private breach: JsonBreach | undefined;

  constructor(private readonly bounds: JsonBounds) {}

  /** Scans the next bytes; answers the first bound crossed (then and on every later call). */
  feed(chunk: Buffer): JsonBreach | undefined {
    if (this.breach !== undefined) return this.breach;
    // The state lives in locals while the loop runs (written back at the end): this loop is
    // on every request with a body, and field accesses per byte would double its cost.
    const { depth: maxDepth, elements: maxElements } = this.bounds;
    const maxEvents = this.bounds.batchEvents ?? Infinity;
    let { depth, inString, escaped, pending, elements, batch, topArray } = this;
    const n = chunk.length;
    let i = 0;
    let breach: JsonBreach | undefined;
    scan: while (i < n) {
      if (inString) {
        // A plain loop: most strings are short, and Buffer#indexOf costs more per call than it saves.
        while (i < n) {
          const c = chunk[i++]!;
          if (escaped) escaped = false;
          else if (c === BACKSLASH) escaped = true;
          else if (c === QUOTE) {
            inString = false;
            break;
          }
        }
        continue;
      }
      const c = chunk[i++]!;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      let starts = false;
      switch (c) {
        case QUOTE:
          starts = true;
          inString = true;
          break;
        case OPEN_OBJECT:
        case OPEN_ARRAY:
          if (depth === 0) topArray = c === OPEN_ARRAY;
          starts = true;
          break;
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          pending = false;
          if (depth > 0) depth--;
          continue scan;
        case COMMA:
          pending = depth > 0;
          continue scan;
        case COLON:
          pending = false;
          continue scan;
        default:
          // A scalar's first byte (later bytes find nothing pending); top-level scalars are never events.
          starts = depth > 0 && pending;
      }
      if (starts) {
        // A value starts here: count it when it is a new element, member or top-level value.
        let event = false;
        let counted = false;
        if (depth === 0) {
          counted = true;
          event = !topArray;
        } else if (pending) {
          pending = false;
          counted = true;
          event = depth === 1 && topArray;
        }
        if (counted && ++elements > maxElements) {
          breach = this.fail(
            'BEACON_E_JSON_TOO_MANY_ELEMENTS',
            `the JSON holds more than ${maxElements} elements (array items and object members; server.limits.jsonElements)`,
          );
          break;
        }
        if (event && ++batch > maxEvents) {
          breach = this.fail(
            'BEACON_E_BATCH_TOO_LARGE',
            `the batch holds more than ${maxEvents} events; at most ${maxEvents} are accepted (server.limits.batchEvents)`,
          );
          break;
        }
      }
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (++depth > maxDepth) {
          breach = this.fail(
            'BEACON_E_JSON_TOO_DEEP',
            `the JSON nests deeper than ${maxDepth} levels (server.limits.jsonDepth)`,
          );
          break;
        }
        pending = true;
      }
    }
    Object.assign(this, { depth, inString, escaped, pending, elements, batch, topArray });
    return breach;
  }

  private fail(code: JsonBreach['code'], message: string): JsonBreach {
    this.breach ??= { code, message };
    return this.breach;
  }
}

/** Scans a whole text or buffer at once; undefined when every bound holds. */
export function scanJson(input: Buffer | string, bounds: JsonBounds): JsonBreach | undefined {
  return new JsonScanner(bounds).feed(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
}
