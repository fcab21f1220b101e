import type { IncomingMessage, ServerResponse } from 'node:http';
import { BeaconError } from '../../../errors/beaconError.js';
import { isRejection } from '../../../event/rejection.js';
import { requestFacts } from '../requestFacts.js';
import { batchTooLarge } from '../commit.js';
import { createProtocolIntake, type ProtocolDeps } from '../protocolIntake.js';
import type { ProtocolEndpoint } from '../protocols.js';
import { sendError, sendJson } from '../responses.js';
import { createWriteKeys } from '../segment/writeKeys.js';
import { decodeCapture, decodeQueryPayload, type Decoded } from './decode.js';
import { posthogEvent } from './mapping.js';
import type { PostHogConfig } from './posthogConfig.js';
import { emptyFlags, KEY_IN_PATH, remoteConfig, remoteConfigScript } from './remoteConfig.js';

/**
 * The PostHog capture API (docs/protocols.md#posthog):
 * - capture: `/e/`, `/i/v0/e/`, `/capture/`, `/batch/`, `/track/`, `/engage/`, each with and
 *   without the trailing slash except `/batch` (that path is Beacon's own /batch, so PostHog
 *   clients, which all send `/batch/`, keep theirs); POST with any body encoding ./decode.ts
 *   reads, and GET with `data=` in the query; a single event, a JSON array of events, or
 *   `{api_key, batch: [...]}`;
 * - `/flags`, `/decide`, `/array/<key>/config(.js)`: answered empty (./remoteConfig.ts).
 *
 * The project API key is taken where PostHog takes it: `Authorization: Bearer`, the body's
 * `api_key` or `token`, an event's `api_key`, `token` or `properties.token`, or the query's
 * `token`; it must be one of `posthog.apiKeys`. Answers are PostHog's: 200 `{"status": 1}`
 * once durable (a batch adds `accepted` and the per-event `rejected` list, which the SDKs
 * ignore); posthog-node and posthog-js retry a 5xx, so a full log's 503 is retried.
 */

const CAPTURE_PATHS: ReadonlySet<string> = new Set([
  '/e',
  '/e/',
  '/i/v0/e',
  '/i/v0/e/',
  '/capture',
  '/capture/',
  '/batch/',
  '/track',
  '/track/',
  '/engage',
  '/engage/',
]);
const FLAGS_PATHS: ReadonlySet<string> = new Set(['/flags', '/flags/', '/decide', '/decide/']);
const CONFIG_PREFIX = '/array/';
const CONFIG_PATH = /^\/array\/([^/]+)\/config(\.js)?$/;
const CAPTURE_METHODS = 'GET, POST, OPTIONS';
const CONFIG_METHODS = 'GET, OPTIONS';

/** What PostHog's capture service takes: 20 MB requests, events up to 1 MB, properties nested as deep as JSON goes. */
const POSTHOG_LIMITS = {
  bodyBytes: 20 * 1024 * 1024,
  decompressedBytes: 20 * 1024 * 1024,
  propsBytes: 1024 * 1024,
  propsDepth: 64,
  batchEvents: 100_000,
};

export function createPostHogApi(config: PostHogConfig, deps: ProtocolDeps): ProtocolEndpoint {
  const intake = createProtocolIntake('posthog', deps, POSTHOG_LIMITS);
  const keys = createWriteKeys(config.apiKeys);
  const decodeLimits = { decompressedBytes: intake.bodyLimits.decompressedBytes };
  const trustProxy = deps.server.trustProxy;

  function unauthorised(req: IncomingMessage, res: ServerResponse, why: string): void {
    intake.refuse(
      req,
      res,
      'BEACON_E_POSTHOG_UNAUTHORIZED',
      `${why}; send a project API key listed in posthog.apiKeys as "api_key" (or "token") in the body`,
    );
  }

  async function capture(
    req: IncomingMessage,
    res: ServerResponse,
    rawQuery: string,
    started: number,
    now: number,
  ): Promise<void> {
    const query = new URLSearchParams(rawQuery);
    let decoded: Decoded;
    if (req.method === 'GET') {
      decoded = await decodeQueryPayload(query, decodeLimits);
    } else {
      const body = await intake.body(req, res);
      if (body === undefined) return;
      decoded = await decodeCapture(body, query, req.headers['content-type'], decodeLimits);
    }
    if (isRejection(decoded)) return intake.refuse(req, res, decoded.code, decoded.message);
    const { value, bound } = decoded;

    let messages: unknown[];
    let top: Record<string, unknown> = {};
    let single = false;
    if (Array.isArray(value)) messages = value;
    else if (isObject(value) && Array.isArray(value.batch)) [messages, top] = [value.batch, value];
    else if (isObject(value) && Array.isArray(value.data)) [messages, top] = [value.data, value];
    else [messages, single] = [[value], true];

    const key =
      bearer(req.headers.authorization) ??
      keyIn(top) ??
      keyOfEvent(messages[0]) ??
      query.get('token') ??
      query.get('api_key') ??
      undefined;
    if (key === undefined) return unauthorised(req, res, 'no project API key was sent');
    if (!keys.accepts(key)) return unauthorised(req, res, 'the project API key is not accepted');

    const facts = requestFacts(req, trustProxy, now, deps.marks);
    if (single) {
      const result = intake.checked(posthogEvent(messages[0], facts, intake.rules, bound));
      if (isRejection(result)) return intake.refuse(req, res, result.code, result.message);
      intake.received(1);
      if (await intake.commit([result], req, res, started)) sendJson(res, 200, '{"status":1}', intake.corsFor(req));
      return;
    }
    if (messages.length > intake.batchEvents) {
      const tooLarge = batchTooLarge('the batch', messages.length, 'events', intake.batchEvents);
      return intake.refuse(req, res, tooLarge.code, tooLarge.message);
    }
    intake.received(messages.length);
    const { events, rejected } = intake.checkEach(messages, (message) =>
      posthogEvent(message, facts, intake.rules, bound),
    );
    if (events.length > 0 && !(await intake.commit(events, req, res, started))) return;
    intake.closeIfDraining(res);
    sendJson(res, 200, JSON.stringify({ status: 1, accepted: events.length, rejected }), intake.corsFor(req));
  }

  /** Reads the body away (nothing in it matters) and answers no flags. */
  async function flags(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'POST') {
      await new Promise<void>((resolve) => {
        req.once('end', resolve);
        req.once('close', resolve);
        req.resume();
      });
    }
    if (res.destroyed) return;
    intake.closeIfDraining(res);
    sendJson(res, 200, JSON.stringify(emptyFlags()), intake.corsFor(req));
  }

  function remote(req: IncomingMessage, res: ServerResponse, path: string): void {
    const corsHeaders = intake.corsFor(req);
    const match = CONFIG_PATH.exec(path);
    const key = match?.[1];
    if (key === undefined || !KEY_IN_PATH.test(key)) {
      return sendError(
        req,
        res,
        new BeaconError(
          'BEACON_E_NOT_FOUND',
          'PostHog remote config lives at /array/<project API key>/config or /config.js',
        ),
        corsHeaders,
      );
    }
    if (!keys.accepts(key)) {
      return sendError(
        req,
        res,
        new BeaconError(
          'BEACON_E_POSTHOG_UNAUTHORIZED',
          'no remote config for this project API key: it is not listed in posthog.apiKeys',
        ),
        corsHeaders,
      );
    }
    const headers = { ...corsHeaders, 'Cache-Control': 'public, max-age=300' };
    if (match?.[2] === undefined) return sendJson(res, 200, JSON.stringify(remoteConfig(key)), headers);
    const script = remoteConfigScript(key);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.writeHead(200, {
      'Content-Type': 'application/javascript; charset=utf-8',
      'Content-Length': Buffer.byteLength(script),
    });
    res.end(script);
  }

  return {
    bodyBytes: intake.bodyLimits.bodyBytes,
    owns: (path) => CAPTURE_PATHS.has(path) || FLAGS_PATHS.has(path) || path.startsWith(CONFIG_PREFIX),
    async handle(req, res, path, query, started, now) {
      const method = req.method;
      if (method === 'OPTIONS') return intake.preflight(req, res);
      if (CAPTURE_PATHS.has(path)) {
        if (method === 'POST' || method === 'GET') return capture(req, res, query, started, now);
        return intake.refuseMethod(req, res, CAPTURE_METHODS);
      }
      if (FLAGS_PATHS.has(path)) {
        if (method === 'POST' || method === 'GET') return flags(req, res);
        return intake.refuseMethod(req, res, CAPTURE_METHODS);
      }
      if (method === 'GET' || method === 'HEAD') return remote(req, res, path);
      return intake.refuseMethod(req, res, CONFIG_METHODS);
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bearer(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function keyIn(record: Record<string, unknown>): string | undefined {
  for (const field of ['api_key', 'token', '$token'] as const) {
    const value = record[field];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

function keyOfEvent(message: unknown): string | undefined {
  if (!isObject(message)) return undefined;
  return keyIn(message) ?? (isObject(message.properties) ? keyIn(message.properties) : undefined);
}
