import { BeaconError } from '../../errors/beaconError.js';
import { isSecretName, REDACTED } from '../redact.js';

/**
 * Converts a Canopsis dispatcher `targets.json` into a Beacon config:
 *
 * | Canopsis                          | Beacon                                                      |
 * |-----------------------------------|-------------------------------------------------------------|
 * | the local input queue             | one `amqp` source (`wrapAs`, so Canopsis events need no `type`) |
 * | each entry of `targets`           | one `rabbitmq` sink: host, port, user, vhost; republishes the event as it came (`payload: props`) with its original routing key |
 * | `params.max_failover_duration` (s) | `dispatch.maxFailoverDuration`                              |
 * | "sent N events" every 1000        | `dispatch.logEvery: 1000` (`sink_sent` log lines)           |
 * | in-memory stacks and /tmp dumps   | nothing: events wait in Beacon's log, per-target cursors    |
 *
 * The file may hold `//` and `/* *\/` comments (the dispatcher's documented sample does); any
 * other deviation from JSON is reported with its line and column.
 */

export interface CanopsisTarget {
  host: string;
  port?: number;
  user?: string;
  password?: string;
  vhost?: string;
}

export interface CanopsisTargets {
  targets: CanopsisTarget[];
  maxFailoverSeconds: number | undefined;
}

export interface ImportOptions {
  /** The queue the dispatcher consumed on its local RabbitMQ. */
  inputQueue: string;
  inputHost: string;
  inputPort: number;
  inputVhost: string;
  /** The exchange events are published to on each target. */
  exchange: string;
}

export const DEFAULT_IMPORT_OPTIONS: ImportOptions = {
  inputQueue: 'canopsis.dispatcher',
  inputHost: '127.0.0.1',
  inputPort: 5672,
  inputVhost: '/',
  exchange: 'canopsis.events',
};

/** Canopsis' own default when `max_failover_duration` is absent. */
const DEFAULT_MAX_FAILOVER_SECONDS = 30;

/** Parses `targets.json` text; throws BEACON_E_CONFIG_PARSE naming the line and what is wrong. */
export function parseCanopsisTargets(text: string, source = 'targets.json'): CanopsisTargets {
  const stripped = stripComments(text, source);
  let doc: unknown;
  try {
    doc = JSON.parse(stripped);
  } catch (err) {
    throw parseError(source, stripped, err as Error);
  }
  const fail = (where: string, what: string): never => {
    throw new BeaconError('BEACON_E_CONFIG_PARSE', `${source}: ${where} ${what}`, { source });
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    fail('the top level', 'must be an object with "targets"');
  const root = doc as Record<string, unknown>;
  if (!Array.isArray(root.targets) || root.targets.length === 0)
    fail('"targets"', 'must be a non-empty list of {"host", "port"?, "user"?, "vhost"?}');
  const targets = (root.targets as unknown[]).map((item, i): CanopsisTarget => {
    const at = `targets[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return fail(at, 'must be an object');
    const t = item as Record<string, unknown>;
    for (const key of Object.keys(t)) {
      if (!['host', 'port', 'user', 'password', 'vhost'].includes(key))
        fail(`${at}.${key}`, 'is not a target field (host, port, user, password, vhost)');
    }
    if (typeof t.host !== 'string' || t.host.trim() === '')
      fail(`${at}.host`, 'must be a host name or address (it is the only required field)');
    const target: CanopsisTarget = { host: (t.host as string).trim() };
    if (t.port !== undefined) {
      const port = typeof t.port === 'string' && /^\d+$/.test(t.port.trim()) ? Number(t.port) : t.port;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535)
        fail(`${at}.port`, `must be a port number, got ${JSON.stringify(t.port)}`);
      target.port = port as number;
    }
    for (const key of ['user', 'password', 'vhost'] as const) {
      if (t[key] === undefined) continue;
      // A password of the wrong type is still a password: its value is never echoed.
      if (typeof t[key] !== 'string')
        fail(
          `${at}.${key}`,
          `must be a string, got ${isSecretName(key) ? `a ${typeof t[key]} (${REDACTED})` : JSON.stringify(t[key])}`,
        );
      target[key] = t[key] as string;
    }
    return target;
  });
  let maxFailoverSeconds: number | undefined;
  if (root.params !== undefined) {
    if (typeof root.params !== 'object' || root.params === null || Array.isArray(root.params))
      fail('"params"', 'must be an object');
    const value = (root.params as Record<string, unknown>).max_failover_duration;
    if (value !== undefined) {
      const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
      if (typeof n !== 'number' || !(n > 0))
        fail('params.max_failover_duration', `must be a number of seconds, got ${JSON.stringify(value)}`);
      maxFailoverSeconds = n as number;
    }
  }
  return { targets, maxFailoverSeconds };
}

/** The Beacon config (a plain object, ready for YAML) for the dispatcher's targets. */
export function canopsisToBeaconConfig(
  parsed: CanopsisTargets,
  options: ImportOptions = DEFAULT_IMPORT_OPTIONS,
): Record<string, unknown> {
  const names = new Set<string>();
  const sinks = parsed.targets.map((t) => {
    const sink: Record<string, unknown> = {
      name: uniqueName(sinkName(t), names),
      type: 'rabbitmq',
      host: t.host,
      port: t.port ?? 5672,
      user: t.user ?? 'guest',
      password: t.password ?? 'guest',
      vhost: t.vhost ?? '/',
      exchange: options.exchange,
      // Republish each event as the dispatcher did: the original message under its original routing key.
      routingKey: '{meta.amqp.routingKey}',
      payload: 'props',
      persistent: true,
      onUnroutable: 'retry',
    };
    return sink;
  });
  return {
    dispatch: { maxFailoverDuration: `${parsed.maxFailoverSeconds ?? DEFAULT_MAX_FAILOVER_SECONDS}s`, logEvery: 1000 },
    sources: [
      {
        name: 'canopsis-input',
        type: 'amqp',
        host: options.inputHost,
        port: options.inputPort,
        vhost: options.inputVhost,
        queue: options.inputQueue,
        declare: { durable: true },
        wrapAs: 'canopsis.event',
      },
    ],
    sinks,
  };
}

/** `canopsis-<host>[-<vhost>]`, in the characters a sink name allows. */
function sinkName(t: CanopsisTarget): string {
  const vhost = t.vhost && t.vhost !== '/' ? `-${t.vhost}` : '';
  const port = t.port && t.port !== 5672 ? `-${t.port}` : '';
  return `canopsis-${t.host}${port}${vhost}`
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/-+$/, '')
    .slice(0, 60);
}

function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  taken.add(name);
  return name;
}

/** Replaces comments by spaces (newlines kept), so JSON.parse positions still match the file. */
function stripComments(text: string, source: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      out += text.slice(start, i + 1);
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) {
        const { line, column } = lineColumn(text, i);
        throw new BeaconError(
          'BEACON_E_CONFIG_PARSE',
          `${source} line ${line}, column ${column}: a /* comment is never closed`,
          { source, line },
        );
      }
      out += text.slice(i, end + 2).replace(/[^\n]/g, ' ');
      i = end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function parseError(source: string, text: string, err: Error): BeaconError {
  const match = /at position (\d+)/.exec(err.message);
  // Node quotes the text around the error (`..."assword": hunter2}" is not valid JSON`), which may be a secret: dropped.
  const what = err.message
    .replace(/, "[\s\S]*" is not valid JSON$/, '')
    .replace(/ in JSON at position \d+.*$/, '')
    .replace(/^Unexpected end of JSON input$/, 'the file ends too early (an unclosed { or [?)');
  if (!match) return new BeaconError('BEACON_E_CONFIG_PARSE', `${source}: ${what}`, { source });
  const { line, column } = lineColumn(text, Number(match[1]));
  let hint = '';
  if (/Expected ',' or '[}\]]'/.test(what)) {
    const previous = text.slice(0, Number(match[1])).trimEnd();
    const prevLine = lineColumn(text, previous.length - 1).line;
    hint = prevLine < line ? ` (is a comma missing at the end of line ${prevLine}?)` : '';
  }
  return new BeaconError('BEACON_E_CONFIG_PARSE', `${source} line ${line}, column ${column}: ${what}${hint}`, {
    source,
    line,
    column,
  });
}

function lineColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  return { line, column: position - before.lastIndexOf('\n') };
}
