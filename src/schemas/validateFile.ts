import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { LimitsConfig } from '../config/schema.js';
import { batchEvent } from '../event/fromSubmitted.js';
import { compileRules } from '../event/rules.js';
import { isRejection } from '../event/rejection.js';
import type { SchemaSet } from './schemaSet.js';

/**
 * The offline check behind `beacon validate`: reads NDJSON events (the json codec's lines, or
 * /batch elements), puts each through the collector's own /batch rules (type pattern, props
 * size and depth, field types) and then its type's schema, and tallies the results per type.
 * Memory stays bounded whatever the file's size: per type a counter and at most
 * MAX_REASONS_PER_TYPE distinct reasons, plus the first `keepInvalid` invalid lines.
 */

const MAX_REASONS_PER_TYPE = 1000;
/** Longest stretch of a bad line kept for `--show`. */
const MAX_LINE_SHOWN = 300;
/** The pseudo-type of lines that are not events at all (not JSON, no string `type`). */
export const UNREADABLE = '(unreadable)';

export interface TypeTally {
  type: string;
  /** Whether a schema checks this type (false: only the /batch rules applied). */
  hasSchema: boolean;
  valid: number;
  invalid: number;
  /** Reason -> count; past MAX_REASONS_PER_TYPE distinct reasons the rest count under "other reasons". */
  reasons: Map<string, number>;
}

export interface InvalidLine {
  line: number;
  type: string;
  text: string;
  reasons: string[];
}

export interface ValidationReport {
  events: number;
  valid: number;
  invalid: number;
  byType: TypeTally[];
  /** The first invalid lines, as many as asked for. */
  firstInvalid: InvalidLine[];
}

export interface Progress {
  events: number;
  bytesRead: number;
  /** Size of the file; undefined when reading a stream (stdin). */
  totalBytes: number | undefined;
}

export interface ValidateOptions {
  schemas: SchemaSet;
  limits: LimitsConfig;
  /** How many invalid lines to keep for display. */
  keepInvalid: number;
  /** Called about every `progressEveryMs` while reading (never when 0). */
  onProgress?: (progress: Progress) => void;
  progressEveryMs?: number;
}

/** Validates the NDJSON file at `path` (`-` reads standard input). */
export async function validateFile(path: string, options: ValidateOptions): Promise<ValidationReport> {
  const input: Readable = path === '-' ? process.stdin : createReadStream(path);
  const totalBytes = path === '-' ? undefined : (await stat(path)).size;
  return validateStream(input, totalBytes, options);
}

export async function validateStream(
  input: Readable,
  totalBytes: number | undefined,
  options: ValidateOptions,
): Promise<ValidationReport> {
  const { schemas, keepInvalid } = options;
  const rules = compileRules(options.limits);
  // Fixed facts: the check is about the client's fields, not the request's.
  const facts = { ts: 0, ip: undefined, ua: undefined, referer: undefined };
  const tallies = new Map<string, TypeTally>();
  const firstInvalid: InvalidLine[] = [];
  let events = 0;
  let invalid = 0;
  let bytesSeen = 0;
  const everyMs = options.progressEveryMs ?? 0;
  let nextProgress = everyMs > 0 ? Date.now() + everyMs : Infinity;

  const tally = (type: string): TypeTally => {
    let t = tallies.get(type);
    if (t === undefined) {
      t = { type, hasSchema: schemas.has(type), valid: 0, invalid: 0, reasons: new Map() };
      tallies.set(type, t);
    }
    return t;
  };
  const fail = (lineNo: number, type: string, text: string, reasons: string[]) => {
    invalid++;
    const t = tally(type);
    t.invalid++;
    for (const reason of reasons) {
      const key = t.reasons.has(reason) || t.reasons.size < MAX_REASONS_PER_TYPE ? reason : 'other reasons';
      t.reasons.set(key, (t.reasons.get(key) ?? 0) + 1);
    }
    if (firstInvalid.length < keepInvalid) {
      firstInvalid.push({
        line: lineNo,
        type,
        text: text.length > MAX_LINE_SHOWN ? `${text.slice(0, MAX_LINE_SHOWN)}...` : text,
        reasons,
      });
    }
  };

  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    bytesSeen += Buffer.byteLength(line) + 1;
    if (Date.now() >= nextProgress) {
      nextProgress = Date.now() + everyMs;
      const bytesRead = (input as Partial<ReadStream>).bytesRead ?? bytesSeen;
      options.onProgress?.({ events, bytesRead, totalBytes });
    }
    if (line.trim() === '') continue;
    events++;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      fail(lineNo, UNREADABLE, line, [`not JSON: ${(err as Error).message.slice(0, 120)}`]);
      continue;
    }
    const type =
      typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
        ? (value as { type: string }).type
        : undefined;
    if (type === undefined) {
      fail(lineNo, UNREADABLE, line, ['not an event: a JSON object with a string "type" is expected']);
      continue;
    }
    const event = batchEvent(value, facts, rules, line.length * 6 + 2);
    if (isRejection(event)) {
      fail(lineNo, type, line, [`${event.code}: ${event.message}`]);
      continue;
    }
    const violation = schemas.check(type, event.props);
    if (violation !== undefined) fail(lineNo, type, line, violation.reasons);
    else tally(type).valid++;
  }
  const byType = [...tallies.values()].sort((a, b) =>
    a.type === UNREADABLE
      ? 1
      : b.type === UNREADABLE
        ? -1
        : b.valid + b.invalid - (a.valid + a.invalid) || a.type.localeCompare(b.type),
  );
  return { events, valid: events - invalid, invalid, byType, firstInvalid };
}

/** The `n` most frequent reasons of a type, most frequent first. */
export function topReasons(tally: TypeTally, n: number): Array<[string, number]> {
  return [...tally.reasons].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
}
