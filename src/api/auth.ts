import { createHash, timingSafeEqual } from 'node:crypto';
import { BeaconError } from '../errors/beaconError.js';
import { MIN_TOKEN_LENGTH, type ApiConfig, type TokenScope } from './apiConfig.js';
import type { Scope } from './route.js';

/**
 * API tokens with scopes (`api.tokens`). Promises it keeps:
 * - With no tokens configured no endpoint asks for a token (the laptop default; the admin
 *   surface then answers only loopback clients, adminSurface.ts); with tokens, a
 *   `read` endpoint needs a token with `read` or `admin` (admin implies read) unless
 *   `api.publicRead` is on, and an `admin` endpoint needs `admin`. `none` is always open.
 * - A presented token is compared by its SHA-256 against every configured digest with
 *   `timingSafeEqual`, all of them every time: the time taken says nothing about how much of a
 *   token matched, nor which entry did. Tokens given in clear (`token`, `tokenEnv`) are hashed
 *   at start and the clear text is not kept.
 * - A token never appears in a message, log line or error: callers get the holder's `name`.
 */

/** Who made an authorised request: a configured token's holder, or nobody (open endpoint). */
export interface Principal {
  name: string;
  scopes: readonly TokenScope[];
}

export type AuthOutcome =
  | { ok: true; principal: Principal | undefined }
  /** `principal`: who was refused, when the token was valid but its scope too small. */
  | { ok: false; error: BeaconError; headers: Record<string, string>; principal?: Principal };

export interface ApiAuth {
  /** True when tokens are configured. */
  readonly enabled: boolean;
  /** Whether an endpoint of this scope asks for a token (so its answers differ by Authorization). */
  requiresToken(scope: Scope): boolean;
  /** Checks a bearer token (undefined: none was sent) against the scope an endpoint needs. */
  authorize(scope: Scope, token: string | undefined): AuthOutcome;
}

interface KnownToken {
  name: string;
  digest: Buffer;
  scopes: readonly TokenScope[];
}

const REALM = 'Bearer realm="beacon"';

/** Builds the checker from config; a `tokenEnv` naming an unset or short variable stops start-up. */
export function createApiAuth(
  config: Pick<ApiConfig, 'tokens' | 'publicRead'>,
  env: NodeJS.ProcessEnv = process.env,
): ApiAuth {
  const known: KnownToken[] = config.tokens.map((t, i) => ({
    name: t.name,
    scopes: t.scopes,
    digest: digestOf(t, i, env),
  }));
  const enabled = known.length > 0;

  function requiresToken(scope: Scope): boolean {
    if (!enabled || scope === 'none') return false;
    return !(scope === 'read' && config.publicRead);
  }

  function authorize(scope: Scope, token: string | undefined): AuthOutcome {
    if (!requiresToken(scope)) return { ok: true, principal: undefined };
    if (token === undefined || token === '') {
      return refuse(
        'BEACON_E_UNAUTHORIZED',
        'this endpoint needs a token: send the header "Authorization: Bearer <token>"',
        REALM,
      );
    }
    const holder = findToken(known, token);
    if (!holder) {
      return refuse(
        'BEACON_E_UNAUTHORIZED',
        'the bearer token matches none of api.tokens; check it for typos or ask for a new one',
        `${REALM}, error="invalid_token"`,
      );
    }
    if (!grants(holder.scopes, scope)) {
      return {
        ...refuse(
          'BEACON_E_FORBIDDEN',
          `token "${holder.name}" has scope ${holder.scopes.join(', ')}; this endpoint needs ${scope}`,
          `${REALM}, error="insufficient_scope", scope="${scope}"`,
        ),
        principal: { name: holder.name, scopes: holder.scopes },
      };
    }
    return { ok: true, principal: { name: holder.name, scopes: holder.scopes } };
  }

  return { enabled, requiresToken, authorize };
}

/** `admin` implies `read`. */
export function grants(scopes: readonly TokenScope[], needed: Scope): boolean {
  if (needed === 'none') return true;
  return scopes.includes('admin') || scopes.includes(needed);
}

/** Every digest is compared, so the time does not depend on which one (if any) matched. */
function findToken(known: readonly KnownToken[], token: string): KnownToken | undefined {
  const digest = sha256(token);
  let found: KnownToken | undefined;
  for (const k of known) {
    if (timingSafeEqual(k.digest, digest) && found === undefined) found = k;
  }
  return found;
}

function digestOf(t: ApiConfig['tokens'][number], index: number, env: NodeJS.ProcessEnv): Buffer {
  if (t.tokenSha256 !== undefined) return Buffer.from(t.tokenSha256, 'hex');
  if (t.token !== undefined) return sha256(t.token);
  const name = t.tokenEnv!;
  const value = env[name];
  const field = `api.tokens[${index}].tokenEnv`;
  if (value === undefined || value === '') {
    throw new BeaconError(
      'BEACON_E_CONFIG_FIELD',
      `${field}: the environment variable ${name} (token "${t.name}") is not set; export it before starting Beacon`,
      { field },
    );
  }
  if (value.length < MIN_TOKEN_LENGTH) {
    throw new BeaconError(
      'BEACON_E_CONFIG_FIELD',
      `${field}: the token in ${name} (token "${t.name}") is shorter than ${MIN_TOKEN_LENGTH} characters; make a longer one, e.g. openssl rand -hex 32`,
      { field },
    );
  }
  return sha256(value);
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function refuse(
  code: 'BEACON_E_UNAUTHORIZED' | 'BEACON_E_FORBIDDEN',
  message: string,
  challenge: string,
): AuthOutcome & { ok: false } {
  return { ok: false, error: new BeaconError(code, message), headers: { 'www-authenticate': challenge } };
}

/** The token of an `Authorization: Bearer <token>` header (scheme matched without regard to case). */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
  return m ? m[1] : undefined;
}
