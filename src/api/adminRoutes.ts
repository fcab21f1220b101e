import type { BeaconConfig } from '../config/schema.js';
import { redactConfig } from '../config/redact.js';
import { BeaconError, isBeaconError } from '../errors/beaconError.js';
import type { SeekTarget, LogUsage } from '../log/eventLog.js';
import { jsonResponse, type AdminHandler, type AdminRequest, type AdminResponse } from './adminRequest.js';

/** What the admin API reads from the process that runs the dispatcher. */
export interface AdminDeps {
  config: BeaconConfig;
  version: string;
  startedAt: number;
  sinkStatus(): readonly SinkStatusView[];
  logUsage(): LogUsage;
  metrics(): Promise<{ contentType: string; body: string }>;
  ready(): boolean;
  /** Dead letters: `{replayed, delivered, deadLettered, unreadable}`; log: `{pending}`. */
  replay(sink: string, from: ReplaySource): Promise<object>;
}

export interface SinkStatusView {
  name: string;
}

export type ReplaySource = { kind: 'dead-letter' } | SeekTarget;

/**
 * Routes served by the process that owns the dispatcher:
 *   GET  /metrics                      Prometheus text
 *   GET  /readyz                       200 once the log and sinks are open, 503 while draining
 *   GET  /api/v1/status                version, uptime, log usage, per-sink state and lag
 *   GET  /api/v1/config                the running config, secrets redacted
 *   POST /api/v1/sinks/<name>/replay   {"from":"dead-letter"|"start"|"end"|"time"|"position", "time"?, "position"?}
 */
export function createAdminRoutes(deps: AdminDeps): AdminHandler {
  return async (req) => {
    try {
      return await route(deps, req);
    } catch (err) {
      if (isBeaconError(err)) return jsonResponse(err.status, err.toBody());
      return jsonResponse(500, { code: 'BEACON_E_INTERNAL', message: (err as Error).message });
    }
  };
}

async function route(deps: AdminDeps, req: AdminRequest): Promise<AdminResponse | undefined> {
  const { method, path } = req;
  if (path === '/metrics' && method === 'GET') {
    const m = await deps.metrics();
    return { status: 200, headers: { 'content-type': m.contentType, 'cache-control': 'no-store' }, body: m.body };
  }
  if (path === '/readyz' && method === 'GET') {
    const ready = deps.ready();
    return jsonResponse(ready ? 200 : 503, { ready });
  }
  if (path === '/api/v1/status' && method === 'GET') {
    return jsonResponse(200, {
      version: deps.version,
      uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
      log: deps.logUsage(),
      sinks: deps.sinkStatus(),
    });
  }
  if (path === '/api/v1/config' && method === 'GET') {
    return jsonResponse(200, redactConfig(deps.config));
  }
  const replay = /^\/api\/v1\/sinks\/([^/]+)\/replay$/.exec(path);
  if (replay && method === 'POST') {
    const name = decodeURIComponent(replay[1]!);
    if (!deps.sinkStatus().some((s) => s.name === name)) {
      throw new BeaconError('BEACON_E_SINK_UNKNOWN', `no sink named "${name}"; configured sinks: ${deps.sinkStatus().map((s) => s.name).join(', ') || 'none'}`);
    }
    const result = await deps.replay(name, parseReplaySource(req.body ?? ''));
    return jsonResponse(200, { ...result, sink: name });
  }
  return undefined;
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
