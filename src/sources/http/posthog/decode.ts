import { isBeaconError } from '../../../errors/beaconError.js';
import { decompress } from '../body.js';
import type { Rejection } from '../../../event/rejection.js';
import { isGzip } from '../protocolIntake.js';
import { decompressLz64 } from './lz64.js';

/**
 * The body encodings PostHog's capture endpoints take, as its clients send them:
 * - JSON text, in `application/json`, `text/plain` or any other media type;
 * - gzip (posthog-js `compression=gzip-js`, or no parameter at all: recognised by the first
 *   bytes 1f 8b, which the shared intake step already inflated before this runs);
 * - a form body `data=<payload>` (`application/x-www-form-urlencoded`, or any body starting
 *   with `data=`), the payload being JSON or base64 of JSON (`compression=base64`, or
 *   recognised as not JSON), and `compression` may sit in the form too;
 * - `compression=lz64`: lz-string's base64 form (./lz64.ts);
 * - a GET with the same `data=` payload in the query string.
 * Resolves with the parsed JSON value, or a Rejection saying what could not be read.
 */

export interface DecodeLimits {
  decompressedBytes: number;
}

export type Decoded = { value: unknown; bound: number } | Rejection;

const BASE64 = /^[A-Za-z0-9+/=_\s-]+$/;

export async function decodeCapture(
  body: Buffer,
  query: URLSearchParams,
  contentType: string | undefined,
  limits: DecodeLimits,
): Promise<Decoded> {
  let text = body.toString('utf8');
  let compression = query.get('compression') ?? undefined;
  let fromForm = false;
  if (mediaType(contentType) === 'application/x-www-form-urlencoded' || text.startsWith('data=')) {
    const form = new URLSearchParams(text);
    const data = form.get('data');
    if (data === null) return bad('the form body has no "data" field; PostHog clients send data=<payload>');
    compression = form.get('compression') ?? compression;
    text = data;
    fromForm = true;
  }
  return decodePayload(text, compression, fromForm, limits);
}

/** A GET's `data=` query parameter, decoded like a form field. */
export function decodeQueryPayload(query: URLSearchParams, limits: DecodeLimits): Promise<Decoded> {
  const data = query.get('data');
  if (data === null) return Promise.resolve(bad('a GET capture needs its payload in the "data" query parameter'));
  return decodePayload(data, query.get('compression') ?? undefined, true, limits);
}

async function decodePayload(
  input: string,
  compression: string | undefined,
  fromForm: boolean,
  limits: DecodeLimits,
): Promise<Decoded> {
  let text = input;
  try {
    if (compression === 'lz64' || compression === 'lz-string') {
      text = await decompressLz64(text.trim(), limits.decompressedBytes);
    } else if (!looksLikeJson(text) && (compression === 'base64' || fromForm || BASE64.test(text))) {
      // A form decoder turned base64's `+` into spaces; put them back.
      const bytes = Buffer.from(text.replace(/ /g, '+'), 'base64');
      text = isGzip(bytes)
        ? (await decompress(bytes, 'gzip', limits.decompressedBytes)).toString('utf8')
        : bytes.toString('utf8');
    }
  } catch (err) {
    if (isBeaconError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return { value: JSON.parse(text) as unknown, bound: text.length * 6 + 2 };
  } catch (err) {
    return { code: 'BEACON_E_BAD_JSON', message: `invalid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
}

function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\ufeff') continue;
    return c === '{' || c === '[';
  }
  return false;
}

function mediaType(header: string | undefined): string {
  if (header === undefined) return '';
  const semicolon = header.indexOf(';');
  return (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

function bad(message: string): Rejection {
  return { code: 'BEACON_E_BAD_EVENT', message };
}
