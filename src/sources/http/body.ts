import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import type { LimitsConfig } from '../../config/schema.js';
import { BeaconError } from '../../errors/beaconError.js';
import { JsonScanner, type JsonBounds } from '../../event/jsonScan.js';
import { COMPATIBLE_PROPS_DEPTH } from '../../event/rules.js';
import { type Rejection } from '../../event/rejection.js';
import { createLargeBodyGate, type LargeBodyGate } from './largeBodies.js';

/**
 * Reading a request body, bounded before anything is parsed. Every endpoint that takes a body
 * reads it here (`readBody`), so the bounds hold for every path at once:
 * - `bodyBytes` counts bytes on the wire. A declared Content-Length above it is refused before
 *   a byte is read; a chunked body is refused at the chunk that crosses it. Nothing past the
 *   cap is kept (the answer drops what still arrives, see `sendError`).
 * - `decompressedBytes` caps gzip/deflate output, counted while zlib inflates: inflating stops
 *   at the chunk that crosses it, so a decompression bomb costs at most the cap in memory.
 * - `json`: the (decompressed) bytes go through a JsonScanner as they arrive, which refuses a
 *   body nesting deeper than `depth` or holding more than `elements` (and, for batch
 *   endpoints, more than `batchEvents` events) before `JSON.parse` ever runs. Defaults to
 *   DEFAULT_JSON_BOUNDS when absent; `false` only for a body that is not JSON at all.
 * - `gate`: a body larger than `largeBodyBytes` (on the wire or decompressed) holds one of the
 *   gate's slots until its answer has gone out; with none free it is refused with 503
 *   BEACON_E_BUSY and Retry-After. Defaults to one gate shared by the whole process.
 *
 * New endpoints: build the limits with `bodyLimitsFrom(server.limits, gate)` (or pass at least
 * bodyBytes and decompressedBytes: the JSON bounds and the gate then take their defaults).
 */
export interface BodyLimits {
  bodyBytes: number;
  decompressedBytes: number;
  json?: JsonBounds | false;
  largeBodyBytes?: number;
  gate?: LargeBodyGate;
}

/** The schema's defaults for server.limits.jsonDepth and jsonElements (a unit test keeps them equal). */
export const DEFAULT_JSON_BOUNDS: JsonBounds = { depth: 64, elements: 100_000 };
/** The schema's defaults for server.limits.largeBodyBytes and largeBodiesAtOnce. */
export const DEFAULT_LARGE_BODY_BYTES = 64 * 1024;
const processGate = createLargeBodyGate(4);

/**
 * The body limits of `server.limits`; `batch` adds the events-per-batch bound for batch endpoints.
 * Without a `gate`, large bodies share the process-wide one.
 */
export function bodyLimitsFrom(limits: LimitsConfig, gate?: LargeBodyGate, batch = false): BodyLimits {
  const json: JsonBounds = { depth: limits.jsonDepth, elements: limits.jsonElements };
  if (batch) json.batchEvents = limits.batchEvents;
  return {
    bodyBytes: limits.bodyBytes,
    decompressedBytes: limits.decompressedBytes,
    json,
    largeBodyBytes: limits.largeBodyBytes,
    gate,
  };
}

/**
 * The body limits of a compatible endpoint (Segment, PostHog, ...): at least `originalBytes`
 * (the original service's request size) whatever server.limits says, and JSON bounds that never
 * refuse what fits in that size: one element takes at least 2 bytes of JSON, so originalBytes / 2
 * elements are always allowed (and no more, so a bigger body is refused early by its count), and the depth leaves room for COMPATIBLE_PROPS_DEPTH levels of
 * props inside the few levels of envelope around them.
 */
export function compatibleBodyLimits(base: BodyLimits, originalBytes: number): BodyLimits {
  const bodyBytes = Math.max(base.bodyBytes, originalBytes);
  const decompressedBytes = Math.max(base.decompressedBytes, originalBytes);
  const json = base.json === false ? false : { ...(base.json ?? DEFAULT_JSON_BOUNDS) };
  if (json) {
    json.depth = Math.max(json.depth, COMPATIBLE_PROPS_DEPTH + ENVELOPE_LEVELS);
    json.elements = Math.max(json.elements, Math.ceil(originalBytes / 2));
  }
  return { ...base, bodyBytes, decompressedBytes, json };
}

/** Levels around an event's props in a compatible body: the batch object, its array, the message, its properties. */
const ENVELOPE_LEVELS = 4;

export type BodyEncoding = 'identity' | 'gzip' | 'deflate';

/** The client went away (or was cut off by a timeout) before its body was complete: nobody to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection before the request body was complete');
    this.name = 'ClientGoneError';
  }
}

/** Parses Content-Encoding; throws BEACON_E_BAD_ENCODING for anything but gzip, deflate or identity. */
export function bodyEncoding(header: string | undefined): BodyEncoding {
  if (header === undefined || header === '') return 'identity';
  const value = header.trim().toLowerCase();
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate') return 'deflate';
  if (value === 'identity' || value === '') return 'identity';
  throw new BeaconError(
    'BEACON_E_BAD_ENCODING',
    `Content-Encoding "${header.slice(0, 64)}" is not supported; use gzip, deflate or identity`,
  );
}

/** True when the client declared a Content-Length above the wire cap (checked before 100-continue). */
export function declaresTooLarge(req: IncomingMessage, bodyBytes: number): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) > bodyBytes;
}

function tooLarge(bodyBytes: number): BeaconError {
  return new BeaconError('BEACON_E_BODY_TOO_LARGE', `request body is larger than ${bodyBytes} bytes`, {
    limit: bodyBytes,
  });
}

function decompressedTooLarge(maxBytes: number): BeaconError {
  return new BeaconError('BEACON_E_DECOMPRESSED_TOO_LARGE', `decompressed body is larger than ${maxBytes} bytes`, {
    limit: maxBytes,
  });
}

function refusal(rejection: Rejection): BeaconError {
  return new BeaconError(rejection.code, rejection.message);
}

function busy(gate: LargeBodyGate): BeaconError {
  return new BeaconError(
    'BEACON_E_BUSY',
    `${gate.capacity} large request bodies are already being read; retry in a moment or send smaller requests`,
    { retryAfterSeconds: 1 },
  );
}

/**
 * Resolves with the whole (decompressed) body. Rejects with a BeaconError the client should
 * see, or with ClientGoneError when there is no one left to answer.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  let encoding: BodyEncoding;
  try {
    encoding = bodyEncoding(req.headers['content-encoding']);
  } catch (err) {
    return Promise.reject(err);
  }
  if (declaresTooLarge(req, limits.bodyBytes)) return Promise.reject(tooLarge(limits.bodyBytes));
  const scanner = limits.json === false ? undefined : new JsonScanner(limits.json ?? DEFAULT_JSON_BOUNDS);
  const large = limits.largeBodyBytes ?? DEFAULT_LARGE_BODY_BYTES;
  const gate = limits.gate ?? processGate;
  let slot: (() => void) | undefined;
  /** Takes a slot of the gate for this request (once); a BeaconError when none is free. */
  const takeSlot = (): BeaconError | undefined => {
    if (slot !== undefined) return undefined;
    slot = gate.tryAcquire();
    if (slot === undefined) return busy(gate);
    releaseWhenAnswered(req, slot);
    return undefined;
  };
  if (Number(req.headers['content-length']) > large) {
    const refused = takeSlot();
    if (refused) return Promise.reject(refused);
  }

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;

    const detach = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const finish = (err: Error | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      detach();
      if (err) reject(err);
      else resolve(body!);
    };
    /** Stops reading: nothing past this chunk is kept. */
    const stop = (err: Error) => {
      req.pause();
      finish(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.bodyBytes) return stop(tooLarge(limits.bodyBytes));
      if (size > large) {
        const refused = takeSlot();
        if (refused) return stop(refused);
      }
      if (encoding === 'identity' && scanner !== undefined) {
        const breach = scanner.feed(chunk);
        if (breach) return stop(refusal(breach));
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      detach();
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (encoding === 'identity' || raw.length === 0) return finish(undefined, raw);
      const onOutput = (chunk: Buffer, total: number): BeaconError | undefined => {
        if (total > large) {
          const refused = takeSlot();
          if (refused) return refused;
        }
        const breach = scanner?.feed(chunk);
        return breach ? refusal(breach) : undefined;
      };
      decompress(raw, encoding, limits.decompressedBytes, onOutput).then(
        (body) => finish(undefined, body),
        (err: Error) => finish(err),
      );
    };
    const onError = () => finish(new ClientGoneError());
    const onClose = () => {
      if (!req.complete) finish(new ClientGoneError());
    };

    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * A large body's slot is held until its answer has gone out (or the connection is gone): the
 * parsed events live until then. The answer is the socket's current response, as node assigns
 * it before calling the request handler.
 */
function releaseWhenAnswered(req: IncomingMessage, release: () => void): void {
  const res = (req.socket as (Socket & { _httpMessage?: ServerResponse | null }) | null)?._httpMessage;
  if (res && res.req === req && !res.closed) res.once('close', release);
  else if (!req.destroyed) req.once('close', release);
  else release();
}

/**
 * Inflates `raw` as a stream, counting the output as it comes: past `maxBytes` it stops at
 * once (BEACON_E_DECOMPRESSED_TOO_LARGE), and `onOutput` sees each chunk (with the running
 * total) and may stop it with an error of its own, so a body is refused before it is all inflated.
 */
export function decompress(
  raw: Buffer,
  encoding: 'gzip' | 'deflate',
  maxBytes: number,
  onOutput?: (chunk: Buffer, total: number) => BeaconError | undefined,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    // Some clients send raw DEFLATE for `Content-Encoding: deflate`; accept both forms.
    const stream = encoding === 'gzip' ? createGunzip() : isZlibWrapped(raw) ? createInflate() : createInflateRaw();
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      stream.destroy();
      reject(err);
    };
    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total > maxBytes) return fail(decompressedTooLarge(maxBytes));
      const stopped = onOutput?.(chunk, total);
      if (stopped) return fail(stopped);
      chunks.push(chunk);
    });
    stream.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, total));
    });
    stream.on('error', (err: Error) =>
      fail(
        new BeaconError('BEACON_E_BAD_ENCODING', `body is not valid ${encoding} data: ${err.message}`, undefined, {
          cause: err,
        }),
      ),
    );
    stream.end(raw);
  });
}
/** RFC 1950 header: compression method 8, and the two header bytes are a multiple of 31. */
function isZlibWrapped(raw: Buffer): boolean {
  if (raw.length < 2) return false;
  const cmf = raw[0]!;
  const flg = raw[1]!;
  return (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
}
