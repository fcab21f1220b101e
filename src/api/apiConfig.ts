import { z } from 'zod';
import { byteSize, duration } from '../config/units.js';
import { adminNetworkSchema } from './adminAccess.js';
import { allowedHostSchema } from './adminSurface.js';

/**
 * The `api` config section: who may call the query and admin API (tokens with scopes) and how
 * long answers may be cached per endpoint class. Defaults follow the Casper-Metrics seed:
 * real-time data micro-cached for seconds, archive data for hours, admin never.
 */

export const TOKEN_SCOPES = ['read', 'admin'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** Shorter tokens are guessable; 16 characters is the floor, `openssl rand -hex 32` the advice. */
export const MIN_TOKEN_LENGTH = 16;

const apiTokenSchema = z
  .strictObject({
    /** Who holds the token; audit lines and logs name it (never the token itself). */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/, 'letters, digits and _ . @ -, at most 64 characters'),
    /** The token itself, written in the config. Prefer `tokenEnv` or `tokenSha256`, so the file holds no usable secret. */
    token: z
      .string()
      .min(MIN_TOKEN_LENGTH, `a token needs at least ${MIN_TOKEN_LENGTH} characters (try: openssl rand -hex 32)`)
      .optional(),
    /** Name of an environment variable holding the token, read when Beacon starts. */
    tokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
      .optional(),
    /** SHA-256 of the token as 64 hex digits (`printf %s "$TOKEN" | sha256sum`): the config holds only the hash. */
    tokenSha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, '64 hex digits (the output of sha256sum)')
      .optional(),
    /** `read`: query endpoints, sink status, dead letters and /live; `admin`: also config and replay (admin implies read). */
    scopes: z.array(z.enum(TOKEN_SCOPES)).min(1).default(['read']),
  })
  .superRefine((t, ctx) => {
    const given = (['token', 'tokenEnv', 'tokenSha256'] as const).filter((k) => t[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `token "${t.name}" needs exactly one of token, tokenEnv or tokenSha256${given.length ? ` (got ${given.join(' and ')})` : ''}`,
      });
    }
  });

export type ApiTokenConfig = z.output<typeof apiTokenSchema>;

const apiCacheSchema = z.strictObject({
  /** How long real-time answers (last minutes, events per second) may be served from cache; 0 turns caching off. */
  realtime: duration().default(2000),
  /** How long archive answers (hours and days in the past, one event by id) may be served from cache; 0 turns caching off. */
  archive: duration().default(3_600_000),
  /** Most answers kept in the in-process cache; the least recently used go first. */
  maxEntries: z.number().int().min(0).default(10_000),
  /** Most bytes of answer bodies kept in the in-process cache. */
  maxBytes: byteSize().default(64 * 1024 * 1024),
});

export const apiSchema = z.strictObject({
  /** API tokens; with none configured the admin and query API and /live answer only on loopback (docs/security.md). */
  tokens: z
    .array(apiTokenSchema)
    .default([])
    .superRefine((tokens, ctx) => {
      const seen = new Set<string>();
      tokens.forEach((t, i) => {
        if (seen.has(t.name))
          ctx.addIssue({
            code: 'custom',
            path: [i, 'name'],
            message: `token name "${t.name}" is used twice; names must be unique`,
          });
        seen.add(t.name);
      });
    }),
  /** With tokens configured, still serve `read` endpoints (queries, status, /live) without one: a public dashboard with a protected admin. */
  publicRead: z.boolean().default(false),
  /** Admin endpoints (class admin, or needing the admin scope) answer only clients in these networks (CIDR or single addresses); empty: any. */
  adminNetworks: z.array(adminNetworkSchema).default([]),
  /**
   * Names the admin and query API and /live answer to in the Host header, besides localhost, IP
   * addresses and server.host (against DNS rebinding): `beacon.lan`, `.example.com` (it and its
   * subdomains), or `*` (any; only behind a proxy that checks Host).
   */
  allowedHosts: z.array(allowedHostSchema).default([]),
  /** Admin endpoints answer only over https (server.tls, or a TLS proxy setting X-Forwarded-Proto with server.trustProxy). */
  adminRequireTls: z.boolean().default(false),
  /** Cache rules per endpoint class; admin and ops endpoints are never cached. */
  cache: apiCacheSchema.prefault({}),
});

export type ApiConfig = z.output<typeof apiSchema>;
export type ApiCacheConfig = ApiConfig['cache'];
