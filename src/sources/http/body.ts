import type { IncomingMessage } from 'node:http';
import { gunzip, inflate, inflateRaw } from 'node:zlib';
import { BeaconError } from '../../errors/beaconError.js';

/**
 * Reading a request body under two caps:
 * - `bodyBytes` counts bytes on the wire. A declared Content-Length above it is refused before
 *   a byte is read; a chunked body is refused at the chunk that crosses it. Nothing past the
 *   cap is kept (the answer drops what still arrives, see `sendError`).
 * - `decompressedBytes` caps gzip/deflate output. zlib stops as soon as its output crosses the
 *   cap, so a decompression bomb costs at most the cap in memory, never the bomb's full size.
 */
export interface BodyLimits {
  bodyBytes: number;
  decompressedBytes: number;
}

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
  throw new BeaconError('BEACON_E_BAD_ENCODING', `Content-Encoding "${header.slice(0, 64)}" is not supported; use gzip, deflate or identity`);
}

/** True when the client declared a Content-Length above the wire cap (checked before 100-continue). */
export function declaresTooLarge(req: IncomingMessage, bodyBytes: number): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) > bodyBytes;
}

function tooLarge(bodyBytes: number): BeaconError {
  return new BeaconError('BEACON_E_BODY_TOO_LARGE', `request body is larger than ${bodyBytes} bytes`, { limit: bodyBytes });
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
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.bodyBytes) {
        // Stop here: nothing past the cap is kept.
        req.pause();
        finish(tooLarge(limits.bodyBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      detach();
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (encoding === 'identity' || raw.length === 0) finish(undefined, raw);
      else decompress(raw, encoding, limits.decompressedBytes).then((body) => finish(undefined, body), (err: Error) => finish(err));
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

/** Inflates with zlib's own output cap (`maxOutputLength`), which aborts mid-stream when crossed. */
export function decompress(raw: Buffer, encoding: 'gzip' | 'deflate', maxBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const done = (err: (Error & { code?: string }) | null, out: Buffer) => {
      if (!err) return resolve(out);
      if (err.code === 'ERR_BUFFER_TOO_LARGE') {
        reject(
          new BeaconError('BEACON_E_DECOMPRESSED_TOO_LARGE', `decompressed body is larger than ${maxBytes} bytes`, {
            limit: maxBytes,
          }),
        );
      } else {
        reject(new BeaconError('BEACON_E_BAD_ENCODING', `body is not valid ${encoding} data: ${err.message}`, undefined, { cause: err }));
      }
    };
    const options = { maxOutputLength: Math.max(1, maxBytes) };
    if (encoding === 'gzip') gunzip(raw, options, done);
    else if (isZlibWrapped(raw)) inflate(raw, options, done);
    // Some clients send raw DEFLATE for `Content-Encoding: deflate`; accept both forms.
    else inflateRaw(raw, options, done);
  });
}

/** RFC 1950 header: compression method 8, and the two header bytes are a multiple of 31. */
function isZlibWrapped(raw: Buffer): boolean {
  if (raw.length < 2) return false;
  const cmf = raw[0]!;
  const flg = raw[1]!;
  return (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
}
