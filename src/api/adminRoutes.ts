import type { BeaconConfig } from '../config/schema.js';
import { redactConfig } from '../config/redact.js';
import type { SinkStatus } from '../dispatch/status.js';
import { BeaconError } from '../errors/beaconError.js';
import type { SeekTarget, LogUsage } from '../log/eventLog.js';
import { jsonResponse } from './adminRequest.js';
import type { DeadLetterView } from './deadLetterView.js';
import type { ApiRoute } from './route.js';
import { enabledProtocols } from '../sources/http/protocols.js';

/** What the admin API reads from the process that runs the dispatcher. */
export interface AdminDeps {
  config: BeaconConfig;
  version: string;
  startedAt: number;
  sinkStatus(): readonly SinkStatus[];
  logUsage(): LogUsage;
  /** Dead letters: `{replayed, delivered, deadLettered, unreadable}`; log: `{pending}`. */
  replay(sink: string, from: ReplaySource): Promise<object>;
  deadLetters: DeadLetterView;
}

export type ReplaySource = { kind: 'dead-letter' } | SeekTarget;

/** `?limit=` of the dead-letter samples. */
const DEFAULT_SAMPLES = 20;
const MAX_SAMPLES = 100;

/**
 * The admin endpoints, served by the process that owns the dispatcher (class `admin`: never
 * cached). Reading state needs `read`; the config and anything that changes state need `admin`.
 * The web page calls exactly these shapes (docs/http-api.md#admin-endpoints).
 */
export function adminRoutes(deps: AdminDeps): ApiRoute[] {
  const sinkNamed = (name: string): SinkStatus => {
    const sink = deps.sinkStatus().find((s) => s.name === name);
    if (!sink) {
      throw new BeaconError(
        'BEACON_E_SINK_UNKNOWN',
        `no sink named "${name}"; configured sinks: ${
          deps
            .sinkStatus()
            .map((s) => s.name)
            .join(', ') || 'none'
        }`,
      );
    }
    return sink;
  };
  return [
    {
      method: 'GET',
      path: '/api/v1/status',
      class: 'admin',
      scope: 'read',
      summary: "Version, uptime, log usage, the compatible protocols that are on, and every sink's state and lag",
      async handle() {
        return jsonResponse(200, {
          version: deps.version,
          uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
          log: deps.logUsage(),
          protocols: enabledProtocols(deps.config),
          sinks: deps.sinkStatus(),
        });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/config',
      class: 'admin',
      scope: 'admin',
      summary: 'The running config, secrets redacted',
      async handle() {
        return jsonResponse(200, redactConfig(deps.config));
      },
    },
    {
      method: 'GET',
      path: '/api/v1/sinks',
      class: 'admin',
      scope: 'read',
      summary:
        'Every sink: state, lag in events and seconds, delivered, dead-lettered, last error, dead letters waiting',
      async handle() {
        const sinks = await Promise.all(
          deps.sinkStatus().map(async (s) => ({ ...s, deadLetters: await deps.deadLetters.counts(s.name) })),
        );
        return jsonResponse(200, { sinks });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/sinks/{name}/dead-letters',
      class: 'admin',
      scope: 'read',
      summary: "A sink's dead letters: count, bytes and the newest samples with their reasons",
      async handle(req, params) {
        const sink = sinkNamed(params.name!);
        return jsonResponse(200, await deps.deadLetters.summary(sink.name, sampleLimit(req.query.limit)));
      },
    },
    {
      method: 'POST',
      path: '/api/v1/sinks/{name}/replay',
      class: 'admin',
      scope: 'admin',
      summary: "Replay a sink's dead letters, or re-deliver the log from a point",
      async handle(req, params) {
        const sink = sinkNamed(params.name!);
        const result = await deps.replay(sink.name, parseReplaySource(req.body ?? ''));
        return jsonResponse(200, { ...result, sink: sink.name });
      },
    },
  ];
}

function sampleLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_SAMPLES;
  const limit = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(limit) || limit < 0 || limit > MAX_SAMPLES) {
    throw new BeaconError(
      'BEACON_E_BAD_QUERY',
      `limit must be a whole number from 0 to ${MAX_SAMPLES}, not ${JSON.stringify(raw)}`,
    );
  }
  return limit;
}

/**
 * The body of `POST /api/v1/sinks/{name}/replay`. Shapes are checked here (a JSON object, a
 * known `from`, a position of whole numbers); whether a position lies within the log is the
 * log's to say (`Cursor.check`), since only it knows its partitions and their range.
 */
export function parseReplaySource(body: string): ReplaySource {
  let parsed: unknown;
  try {
    parsed = body.trim() ? (JSON.parse(body) as unknown) : {};
  } catch {
    throw new BeaconError('BEACON_E_REPLAY', 'replay body must be JSON such as {"from":"dead-letter"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BeaconError(
      'BEACON_E_REPLAY',
      `replay body must be a JSON object such as {"from":"dead-letter"}, not ${describeJson(parsed)}`,
    );
  }
  const { from, time, position } = parsed as { from?: unknown; time?: unknown; position?: unknown };
  switch (from ?? 'dead-letter') {
    case 'dead-letter':
      return { kind: 'dead-letter' };
    case 'start':
      return { kind: 'start' };
    case 'end':
      return { kind: 'end' };
    case 'time': {
      const ts = typeof time === 'number' ? time : Date.parse(String(time));
      if (!Number.isFinite(ts))
        throw new BeaconError(
          'BEACON_E_REPLAY',
          `replay from time needs "time" as ISO 8601 or epoch ms; got ${JSON.stringify(time)}`,
        );
      return { kind: 'time', ts };
    }
    case 'position':
      return { kind: 'position', position: parsePosition(position) };
    default:
      throw new BeaconError(
        'BEACON_E_REPLAY',
        `unknown replay source ${JSON.stringify(from)}; use dead-letter, start, end, time or position`,
      );
  }
}

/**
 * `{"p0": 1200, "p1": "77"}`: each value a whole number, as a JSON number or a string of digits.
 * JSON numbers past 2^53-1 have already lost digits when parsed (9007199254740993 reads as
 * ...992), so they are refused rather than rounded; a string that large is past the end of any log.
 */
function parsePosition(value: unknown): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BeaconError(
      'BEACON_E_REPLAY_POSITION',
      `replay from position needs "position" as an object such as {"p0": 1200} (a partition and the sequence number to start at), not ${describeJson(value)}`,
    );
  }
  const out: Record<string, number> = {};
  for (const [name, raw] of Object.entries(value)) {
    const shown = `position ${JSON.stringify(name.slice(0, 100))}: ${JSON.stringify(raw)?.slice(0, 60)}`;
    let seq: number | undefined;
    if (typeof raw === 'number') seq = Number.isSafeInteger(raw) ? raw : undefined;
    else if (typeof raw === 'string' && /^-?\d{1,30}$/.test(raw)) {
      const big = BigInt(raw);
      if (big > BigInt(Number.MAX_SAFE_INTEGER))
        throw new BeaconError(
          'BEACON_E_REPLAY_POSITION',
          `${shown} is past the end of the log (sequence numbers here are below 2^53)`,
          { partition: name },
        );
      seq = Number(big);
    }
    if (seq === undefined) {
      throw new BeaconError(
        'BEACON_E_REPLAY_POSITION',
        `${shown} is not a whole number Beacon can hold exactly (0 to ${Number.MAX_SAFE_INTEGER}; larger JSON numbers lose digits, send them as strings)`,
        { partition: name },
      );
    }
    Object.defineProperty(out, name, { value: seq, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return value === undefined
    ? 'nothing'
    : typeof value === 'object'
      ? 'an object'
      : `${typeof value} ${JSON.stringify(value).slice(0, 60)}`;
}
