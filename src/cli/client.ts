import { BeaconError } from '../errors/beaconError.js';

/** Where CLI commands find a running Beacon: --url, else BEACON_URL, else the default port. */
export const DEFAULT_URL = process.env.BEACON_URL ?? 'http://127.0.0.1:8290';

/**
 * Headers that carry the API token from `BEACON_TOKEN`, when set (api.tokens on the server).
 * Read from the environment rather than a flag so the token stays out of `ps` and shell history.
 */
export function tokenHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const token = env.BEACON_TOKEN?.trim();
  return token ? { authorization: `Bearer ${token}` } : {};
}

export interface ClientResponse<T> {
  status: number;
  body: T;
}

/** Calls a running Beacon; a refused connection becomes BEACON_E_NOT_RUNNING naming the URL. */
export async function callBeacon<T = unknown>(
  baseUrl: string,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ClientResponse<T>> {
  const url = new URL(path, baseUrl);
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? 'GET',
      body: init.body,
      headers: { ...tokenHeaders(), ...init.headers },
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new BeaconError(
      'BEACON_E_NOT_RUNNING',
      `no Beacon answering at ${baseUrl} (${cause?.code ?? (err as Error).message})`,
      { url: baseUrl },
      { cause: err },
    );
  }
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) body = JSON.parse(text);
  return { status: res.status, body: body as T };
}

/** Throws the server's own `{code, message}` when a call did not succeed. */
export function expectOk<T>(res: ClientResponse<T>, what: string): T {
  if (res.status >= 200 && res.status < 300) return res.body;
  const b = res.body as { code?: string; message?: string } | string;
  const message = typeof b === 'string' ? b : `${b.code ?? ''} ${b.message ?? ''}`.trim();
  throw new Error(`${what} failed with HTTP ${res.status}: ${message}`);
}
