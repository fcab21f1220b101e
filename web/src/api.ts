/**
 * Talks to Beacon's API from the page. A token, once given, lives in sessionStorage (gone when
 * the tab closes) and goes out as `Authorization: Bearer` and, on the `/live` WebSocket (which
 * cannot carry headers from a browser), as `?token=`.
 *
 * What the token may do is learnt from the answers: a 401 asks for a token, a 403 on an admin
 * endpoint means the token reads only. With no tokens configured Beacon answers everything,
 * so the page acts as admin.
 */

const TOKEN_KEY = 'beacon.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Access = 'unknown' | 'read' | 'admin';

export class BeaconApi {
  /** `admin` once an admin endpoint answered 2xx, `read` once one answered 403. */
  access: Access = 'unknown';
  private readonly authListeners = new Set<(message: string) => void>();
  private readonly accessListeners = new Set<(access: Access) => void>();

  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  setToken(token: string | null): void {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    this.setAccess('unknown');
  }

  /** Called with a reason whenever an answer is 401: the page shows the token dialog. */
  onAuthNeeded(listener: (message: string) => void): void {
    this.authListeners.add(listener);
  }

  onAccess(listener: (access: Access) => void): void {
    this.accessListeners.add(listener);
  }

  /** Something other than a fetch was refused for want of a token (the live stream): ask for one. */
  tokenRefused(message: string): void {
    for (const l of this.authListeners) l(message);
  }

  async get(path: string, opts: { admin?: boolean } = {}): Promise<unknown> {
    return this.request('GET', path, undefined, opts.admin ?? false);
  }

  async post(path: string, body: unknown): Promise<unknown> {
    return this.request('POST', path, JSON.stringify(body), true);
  }

  /** `ws://host/live?...` with the token added when there is one. */
  liveUrl(query: URLSearchParams): string {
    const q = new URLSearchParams(query);
    const token = this.token;
    if (token) q.set('token', token);
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const qs = q.toString();
    return `${scheme}//${location.host}/live${qs ? `?${qs}` : ''}`;
  }

  private async request(method: string, path: string, body: string | undefined, admin: boolean): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body, cache: 'no-store' });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', `Beacon did not answer (${(err as Error).message}); is it running?`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.ok) {
      if (admin) this.setAccess('admin');
      return parsed;
    }
    const problem =
      typeof parsed === 'object' && parsed !== null ? (parsed as { code?: unknown; message?: unknown }) : {};
    const code = typeof problem.code === 'string' ? problem.code : `HTTP_${res.status}`;
    const message = typeof problem.message === 'string' ? problem.message : `${method} ${path} answered ${res.status}`;
    if (res.status === 401) for (const l of this.authListeners) l(message);
    // Only a token's missing scope makes it read-only; other 403s (loopback only, Host, Origin) say why themselves.
    if (res.status === 403 && admin && code === 'BEACON_E_FORBIDDEN') this.setAccess('read');
    throw new ApiError(res.status, code, message);
  }

  private setAccess(access: Access): void {
    if (access === this.access) return;
    this.access = access;
    for (const l of this.accessListeners) l(access);
  }
}
