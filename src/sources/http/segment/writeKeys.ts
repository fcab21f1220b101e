import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Write-key checks for the Segment API. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so the time an answer takes says nothing about how much of a guess was
 * right; the keys themselves are never logged or echoed.
 */
export interface WriteKeys {
  /** True when `key` is one of the configured write keys. */
  accepts(key: string): boolean;
}

export function createWriteKeys(keys: readonly string[]): WriteKeys {
  const digests = keys.map(digest);
  return {
    accepts(key) {
      const given = digest(key);
      let found = false;
      // Every digest is compared (no early exit), so the position of a match is not timed either.
      for (const d of digests) found = timingSafeEqual(d, given) || found;
      return found;
    },
  };
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The write key in an `Authorization` header, as Segment SDKs send it: HTTP Basic with the
 * key as the user name and an empty password. `undefined` when the header is absent; `null`
 * when it is present but not a readable Basic credential.
 */
export function writeKeyFromHeader(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  const match = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  return user.length > 0 ? user : null;
}
