import type { BeaconConfig } from '../config/schema.js';
import { redactConfig } from '../config/redact.js';
import type { SinkStatus } from '../dispatch/status.js';
import { BeaconError } from '../errors/beaconError.js';
import type { SeekTarget, LogUsage } from '../log/eventLog.js';
import { jsonResponse } from './adminRequest.js';
import type { DeadLetterView } from './deadLetterView.js';
import type { ApiRoute } from './route.js';

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
      throw new BeaconError('BEACON_E_SINK_UNKNOWN', `no sink named "${name}"; configured sinks: ${deps.sinkStatus().map((s) => s.name).join(', ') || 'none'}`);
    }
    return sink;
  };
  return [
    {
      method: 'GET',
      path: '/api/v1/status',
      class: 'admin',
      scope: 'read',
      summary: 'Version, uptime, log usage and every sink\'s state and lag',
      async handle() {
        return jsonResponse(200, {
          version: deps.version,
          uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
          log: deps.logUsage(),
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
      summary: 'Every sink: state, lag in events and seconds, delivered, dead-lettered, last error, dead letters waiting',
      async handle() {
        const sinks = await Promise.all(deps.sinkStatus().map(async (s) => ({ ...s, deadLetters: await deps.deadLetters.counts(s.name) })));
        return jsonResponse(200, { sinks });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/sinks/{name}/dead-letters',
      class: 'admin',
      scope: 'read',
      summary: 'A sink\'s dead letters: count, bytes and the newest samples with their reasons',
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
      summary: 'Replay a sink\'s dead letters, or re-deliver the log from a point',
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
    throw new BeaconError('BEACON_E_BAD_QUERY', `limit must be a whole number from 0 to ${MAX_SAMPLES}, not ${JSON.stringify(raw)}`);
  }
  return limit;
}

export function parseReplaySource(body: string): ReplaySource {
  let parsed: { from?: unknown; time?: unknown; position?: unknown };
  try {
    parsed = body.trim() ? (JSON.parse(body) as typeof parsed) : {};
  } catch {
    throw new BeaconError('BEACON_E_REPLAY', 'replay body must be JSON such as {"from":"dead-letter"}');
  }
  switch (parsed.from ?? 'dead-letter') {
    case 'dead-letter':
      return { kind: 'dead-letter' };
    case 'start':
      return { kind: 'start' };
    case 'end':
      return { kind: 'end' };
    case 'time': {
      const ts = typeof parsed.time === 'number' ? parsed.time : Date.parse(String(parsed.time));
      if (!Number.isFinite(ts)) throw new BeaconError('BEACON_E_REPLAY', `replay from time needs "time" as ISO 8601 or epoch ms; got ${JSON.stringify(parsed.time)}`);
      return { kind: 'time', ts };
    }
    case 'position': {
      const pos = parsed.position;
      if (!pos || typeof pos !== 'object' || !Object.values(pos).every((v) => Number.isInteger(v))) {
        throw new BeaconError('BEACON_E_REPLAY', 'replay from position needs "position" as {"p0": <sequence>, ...}');
      }
      return { kind: 'position', position: pos as Record<string, number> };
    }
    default:
      throw new BeaconError('BEACON_E_REPLAY', `unknown replay source ${JSON.stringify(parsed.from)}; use dead-letter, start, end, time or position`);
  }
}
