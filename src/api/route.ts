import type { AdminRequest, AdminResponse } from './adminRequest.js';

/**
 * The seam between the API's endpoints and what wraps them (auth, cache, OpenAPI check).
 *
 * Each endpoint is declared once as an `ApiRoute`: its method and path template, the class that
 * picks its cache rule (the Casper-Metrics seed: real-time data micro-cached for seconds,
 * archive data for hours, admin never), and the scope a token needs. The router applies auth
 * and caching from these declarations, and a test checks docs/openapi.yaml against them.
 */

/** Picks the cache rule: `realtime` (seconds), `archive` (hours), `admin` and `ops` (never cached). */
export type EndpointClass = 'realtime' | 'archive' | 'admin' | 'ops';

/** `none`: open to anyone (health, metrics); `read`: query endpoints; `admin`: state-changing or config. */
export type Scope = 'none' | 'read' | 'admin';

export interface ApiRoute {
  method: 'GET' | 'POST';
  /** OpenAPI-style template: `/api/v1/events/{id}`; `{name}` matches one path segment. */
  path: string;
  class: EndpointClass;
  scope: Scope;
  /** One line for docs and the OpenAPI summary. */
  summary: string;
  /** `params` holds the decoded `{name}` segments of `path`. */
  handle(req: AdminRequest, params: Record<string, string>): Promise<AdminResponse>;
}

/** Matches a path against a route template; returns the decoded params, or undefined. */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const want = template.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const part = want[i]!;
    if (part.startsWith('{') && part.endsWith('}')) {
      if (got[i] === '') return undefined;
      try {
        params[part.slice(1, -1)] = decodeURIComponent(got[i]!);
      } catch {
        return undefined;
      }
    } else if (part !== got[i]) {
      return undefined;
    }
  }
  return params;
}
