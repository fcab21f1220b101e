import { findSinkDefinition } from '../sinks/registry.js';
import { findSourceDefinition } from '../sources/registry.js';
import { findChannelDefinition } from '../alerts/channels/registry.js';

/**
 * The one redaction rule for everything that shows config or a config error: `check-config`,
 * `GET /api/v1/config`, config errors (CLI, the 422 answer to a reload, the
 * `config_reload_refused` log line), env overrides, `beacon import canopsis` and the config
 * source (`--config` URL) wherever it is echoed. It is name-based, so blocks added later are
 * covered without a list to keep up to date:
 *
 * 1. Secret-named keys (`SECRET_NAME`: password, pass, passphrase, secret, token, apiKey(s),
 *    writeKey(s), accessKey, privateKey, credentials, auth, authorization, cookie, signature,
 *    salt, dsn...; any case, `-`/`_` or camelCase): a scalar value becomes `***`; under an
 *    object or list, every scalar inside does (a token list keeps its `name` and `scopes`).
 *    Booleans are kept (`tls.rejectUnauthorized` says nothing secret).
 * 2. Keys a sink, source or alert channel declares secret (`secretKeys`: http headers, a
 *    ClickHouse or webhook url...), whatever their name.
 * 3. Every string that holds a URL (`scheme://...`), anywhere in the config or in a message:
 *    the userinfo up to the LAST `@` before the query is hidden (`u:p@ss@host` -> `u:***@host`;
 *    a user-only `https://TOKEN@host` -> `https://***@host`), and the value of EVERY query and
 *    fragment parameter is hidden (`?api_key=x&env=prod` -> `?api_key=***&env=***`; a parameter
 *    without `=` is hidden whole). All values, not only secret-named ones: a URL's query is
 *    where tokens hide under names no rule can guess (`?k=`, `?sig=`, `?X-Amz-Credential=`).
 * 4. In free text (messages), `name=value` and `"name": value` pairs whose name is secret-named.
 */
export const REDACTED = '***';

/** Key names whose values are secrets. */
export const SECRET_NAME =
  /pass(?:word|wd|phrase)?|secret|token|credential|api[-_]?keys?$|write[-_]?keys?$|access[-_]?keys?$|private[-_]?keys?$|^auth$|authorization|^cookies?$|signature|bearer|jwt|hmac|salt$|^dsn$/i;

/** Inside a secret-named list of objects, these stay readable (`api.tokens[].name`, `.scopes`). */
const DESCRIPTIVE = new Set(['name', 'scopes', 'scope', 'type']);

/** True when a config key's value must never be shown. */
export function isSecretName(key: string): boolean {
  return SECRET_NAME.test(key);
}

/**
 * A copy of the config safe to print or serve (see the rule above). Works on a validated
 * config and on a raw document alike (config errors show values from the raw one).
 */
export function redactConfig<T>(config: T): T {
  const copy = structuredClone(config) as unknown;
  walk(copy);
  const parts = copy as { sinks?: unknown[]; sources?: unknown[]; alerts?: { channels?: unknown[] } };
  for (const [list, find] of [
    [parts.sinks, findSinkDefinition],
    [parts.sources, findSourceDefinition],
    [parts.alerts?.channels, findChannelDefinition],
  ] as const) {
    for (const part of Array.isArray(list) ? list : []) {
      if (!part || typeof part !== 'object') continue;
      const p = part as Record<string, unknown>;
      const def = typeof p.type === 'string' ? find(p.type) : undefined;
      for (const dotted of def?.secretKeys ?? []) redactPath(p, dotted.split('.'));
    }
  }
  // Segment write keys: their key name says nothing secret, so the pattern above misses them.
  const segment = (copy as { segment?: unknown }).segment;
  if (segment && typeof segment === 'object') redactPath(segment as Record<string, unknown>, ['writeKeys']);
  // PostHog project keys sit in a list, which the pattern above does not enter (ga4 apiSecret it does catch).
  const posthog = (copy as { posthog?: unknown }).posthog;
  if (posthog && typeof posthog === 'object') redactPath(posthog as Record<string, unknown>, ['apiKeys']);
  return copy as T;
}

function walk(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const container = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(container)) {
    // An `auth` block ({ user, pass }) is walked like any other: its user name is no secret, its pass is.
    if (/^auth$/i.test(key) && value && typeof value === 'object' && !Array.isArray(value)) walk(value);
    else if (isSecretName(key)) container[key] = hideAll(value);
    else if (typeof value === 'string') container[key] = redactText(value);
    else walk(value);
  }
}

/** Every scalar inside `value` hidden, booleans and descriptive keys of list entries kept. */
function hideAll(value: unknown): unknown {
  if (value === null || value === undefined || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map(hideAll);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = DESCRIPTIVE.has(k) && !isSecretName(k) ? v : hideAll(v);
    return out;
  }
  return REDACTED;
}

function redactPath(node: Record<string, unknown>, path: string[]): void {
  const [head, ...rest] = path;
  if (head === undefined || !(head in node)) return;
  if (rest.length === 0) {
    node[head] = hideAll(node[head]);
    return;
  }
  const next = node[head];
  if (next && typeof next === 'object') redactPath(next as Record<string, unknown>, rest);
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*/gi;
const SECRET_PAIR = new RegExp(
  String.raw`("?)([\w.-]*(?:${SECRET_NAME.source.replace(/\$|\^/g, '')})[\w.-]*)\1(\s*=\s*|"\s*:\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s&,;}\]]+)`,
  'gi',
);

/**
 * A message, log field or config string with its secrets hidden: URL userinfo and query
 * values (rule 3), and secret-named `name=value` / `"name": value` pairs (rule 4).
 */
export function redactText(text: string): string {
  let out = text.includes('://') ? text.replace(URL_IN_TEXT, redactUrl) : text;
  if (out.includes('=') || out.includes(':'))
    out = out.replace(
      SECRET_PAIR,
      (_all, quote: string, name: string, sep: string) => `${quote}${name}${quote}${sep}${REDACTED}`,
    );
  return out;
}

/** `scheme://user:pass@host/path?a=1#f` -> `scheme://user:***@host/path?a=***#***`. */
export function redactUrl(url: string): string {
  const start = url.indexOf('://') + 3;
  const rest = url.slice(start);
  const q = rest.search(/[?#]/);
  let authorityAndPath = q === -1 ? rest : rest.slice(0, q);
  const tail = q === -1 ? '' : rest.slice(q);
  const at = authorityAndPath.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = authorityAndPath.slice(0, at);
    const colon = userinfo.indexOf(':');
    const shownUser = colon === -1 ? REDACTED : `${userinfo.slice(0, colon)}:${REDACTED}`;
    authorityAndPath = `${shownUser}@${authorityAndPath.slice(at + 1)}`;
  }
  const hiddenTail = tail.replace(
    /([?&;#])([^=&;#]*)(=[^&;#]*)?/g,
    (_all, sep: string, name: string, value: string | undefined) =>
      value === undefined ? (name === '' ? sep : `${sep}${REDACTED}`) : `${sep}${name}=${REDACTED}`,
  );
  return url.slice(0, start) + authorityAndPath + hiddenTail;
}
