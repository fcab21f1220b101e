/**
 * A request to the admin/query API as plain data, so it can be handled in-process or sent to
 * the primary process over IPC by a collector worker (the primary owns the dispatcher state).
 */
export interface AdminRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body?: string;
  /** The TCP peer's address (for audit lines); X-Forwarded-For stays in `headers`. */
  remoteAddress?: string;
  /** Whether the request came over TLS to Beacon itself (server.tls); a proxy's X-Forwarded-Proto stays in `headers`. */
  tls?: boolean;
}

export interface AdminResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type AdminHandler = (req: AdminRequest) => Promise<AdminResponse | undefined>;

export function jsonResponse(status: number, value: unknown, headers: Record<string, string> = {}): AdminResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(value),
  };
}
