import { readFile, writeFile, rename } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { BeaconError } from '../errors/beaconError.js';
import { configSchema, EMBEDDED_DEFAULTS, type BeaconConfig } from './schema.js';
import { applyEnvOverrides, type EnvOverride } from './envOverrides.js';
import { discriminatorValues, keysAt } from './schemaWalk.js';
import { didYouMean } from './didYouMean.js';
import { REDACTED, redactConfig, redactText } from './redact.js';

export interface LoadOptions {
  /** A file path or an http(s) URL; absent means the embedded defaults. */
  source?: string;
  env?: NodeJS.ProcessEnv;
  /** For a URL source: where the last good copy is kept, and used when the URL is unreachable. */
  cachePath?: string;
  /** One fetch of a URL source, at most (default 5 s). */
  fetchTimeoutMs?: number;
  /** Fetches of a URL source before giving up (default 5), the first included. */
  fetchAttempts?: number;
  /** Every fetch of a URL source together, pauses included, at most (default 20 s). */
  fetchDeadlineMs?: number;
  /** Called when the cached copy stands in for an unreachable URL. */
  onWarning?: (message: string) => void;
}

export interface LoadedConfig {
  config: BeaconConfig;
  /** The raw document after env overrides, before defaults (what check-config shows on error). */
  raw: Record<string, unknown>;
  source: string;
  overrides: EnvOverride[];
  /** How this config was loaded: a reload (SIGHUP, `beacon reload`) loads it again the same way. */
  options: LoadOptions;
}

export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  // What messages and `source` show: a config URL's credentials and query values hidden (./redact.ts).
  const source = options.source ? redactText(options.source) : '(embedded defaults)';
  const raw = options.source
    ? parseDocument(await readSource(options), source)
    : (structuredClone(EMBEDDED_DEFAULTS) as Record<string, unknown>);
  const overrides = applyEnvOverrides(raw, env, configSchema);
  return { config: validateConfig(raw, source, overrides), raw, source, overrides, options };
}

async function readSource(options: LoadOptions): Promise<string> {
  const location = options.source!;
  const source = redactText(location);
  if (!/^https?:\/\//i.test(location)) {
    try {
      return await readFile(location, 'utf8');
    } catch (err) {
      throw new BeaconError(
        'BEACON_E_CONFIG_UNREACHABLE',
        `cannot read config file ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { source },
        { cause: err },
      );
    }
  }
  const started = Date.now();
  let attempts = 0;
  try {
    const text = await fetchWithRetries(location, {
      timeoutMs: options.fetchTimeoutMs ?? 5000,
      attempts: options.fetchAttempts ?? 5,
      deadline: started + (options.fetchDeadlineMs ?? 20_000),
      onAttempt: () => attempts++,
    });
    if (options.cachePath) await writeAtomically(options.cachePath, text);
    return text;
  } catch (err) {
    const tried = `${attempts} attempt${attempts === 1 ? '' : 's'} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
    const reason = `${describeFetchError(err)} (${tried})`;
    if (options.cachePath) {
      try {
        const cached = await readFile(options.cachePath, 'utf8');
        options.onWarning?.(
          `config URL ${source} is unreachable (${reason}); using the last good copy from ${options.cachePath}`,
        );
        return cached;
      } catch {
        // fall through to the error below, which names the URL
      }
    }
    throw new BeaconError(
      'BEACON_E_CONFIG_UNREACHABLE',
      `cannot fetch config from ${source}: ${redactText(reason)}`,
      { source },
      { cause: err },
    );
  }
}

/** An answer that will not change by asking again (a wrong URL, no permission): not retried. */
class FinalAnswer extends Error {}

/**
 * Fetches `url`, retrying refused connections, timeouts and 5xx/408/429 answers with doubling
 * pauses (250 ms, 500 ms, 1 s...) until `attempts` or `deadline`: a config server that is
 * restarting at boot gets a moment, a dead one costs a bounded wait. Each attempt's timeout
 * is cut to the time left.
 */
async function fetchWithRetries(
  url: string,
  o: { timeoutMs: number; attempts: number; deadline: number; onAttempt: () => void },
): Promise<string> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    const left = o.deadline - Date.now();
    if (left <= 0) break;
    o.onAttempt();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.min(o.timeoutMs, left)) });
      if (!res.ok) {
        const message = `HTTP ${res.status} ${res.statusText}`;
        throw res.status >= 500 || res.status === 408 || res.status === 429
          ? new Error(message)
          : new FinalAnswer(message);
      }
      return await res.text();
    } catch (err) {
      lastError = err;
      if (err instanceof FinalAnswer) break;
      const pause = 250 * 2 ** (attempt - 1);
      if (attempt < o.attempts && Date.now() + pause < o.deadline) await new Promise((r) => setTimeout(r, pause));
    }
  }
  throw lastError ?? new Error('timed out');
}

function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: string; message?: string } | undefined;
  if (err.name === 'TimeoutError') return 'timed out';
  return cause?.code ?? cause?.message ?? err.message;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

function parseDocument(text: string, source: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const where =
      err instanceof YAMLParseError && err.linePos
        ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}`
        : '';
    throw new BeaconError(
      'BEACON_E_CONFIG_PARSE',
      `${source}${where}: ${redactText((err as Error).message.split('\n')[0]!)}`,
      { source },
    );
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new BeaconError(
      'BEACON_E_CONFIG_PARSE',
      `${source}: expected a mapping of config keys at the top level, got ${Array.isArray(doc) ? 'a list' : typeof doc}`,
      { source },
    );
  }
  return doc as Record<string, unknown>;
}

/** Validates a raw config document; throws one BeaconError listing every problem. */
export function validateConfig(
  raw: Record<string, unknown>,
  source = '(inline)',
  overrides: EnvOverride[] = [],
): BeaconConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  // Values are shown as check-config would show them: secrets hidden by the one rule of ./redact.ts.
  const shown = redactConfig(raw);
  const problems = result.error.issues.map((issue) => describeIssue(issue, raw, shown, overrides));
  const unknownOnly = result.error.issues.every((i) => i.code === 'unrecognized_keys');
  throw new BeaconError(
    unknownOnly ? 'BEACON_E_CONFIG_UNKNOWN_KEY' : 'BEACON_E_CONFIG_FIELD',
    `invalid config (${redactText(source)}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    { problems },
  );
}

function describeIssue(
  issue: z.core.$ZodIssue,
  raw: Record<string, unknown>,
  redacted: Record<string, unknown>,
  overrides: EnvOverride[],
): string {
  const path = issue.path;
  const field = formatPath(path);
  const fromEnv = overrides.find((o) => formatPath(o.path) === field);
  const origin = fromEnv ? ` (from ${fromEnv.variable})` : '';
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(configSchema, path, raw);
    return issue.keys
      .map((key) => {
        const name = field ? `${field}.${key}` : key;
        const guess = didYouMean(key, known);
        return `${name}: unknown key${guess ? `; did you mean ${guess}?` : `; allowed here: ${known.join(', ')}`}`;
      })
      .join('\n  - ');
  }
  const value = valueAt(redacted, path);
  const hidden = JSON.stringify(value) !== JSON.stringify(valueAt(raw, path));
  const shown =
    value === undefined
      ? 'nothing'
      : value === REDACTED
        ? `${REDACTED} (a secret: its value is not shown)`
        : JSON.stringify(value);
  let expected = issue.message.replace(/^Invalid input: /, '');
  // A check's own message may quote the value ("...; got 31415926535"): never for a secret.
  expected = hidden ? expected.replace(/;?\s*got [\s\S]*$/, '') : redactText(expected);
  if (issue.code === 'invalid_union' && 'discriminator' in issue) {
    const values = discriminatorValues(configSchema, path.slice(0, -1), raw);
    expected = `expected one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    expected = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `${field || '(top level)'}: ${expected}; got ${shown}${origin}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const key of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}
