import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../config/schema.js';
import type { ErrorCode } from '../../errors/codes.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { Metrics } from '../../ops/metrics.js';
import type { StrictSchemaCheck } from '../../schemas/schemaGate.js';
import type { Emit } from '../source.js';
import { bodyLimitsFrom, compatibleBodyLimits, decompress, readBody, type BodyLimits } from './body.js';
import { createIntakeCommit, type IntakeCommit } from './commit.js';
import type { CorsPolicy, HeaderMap } from './cors.js';
import { type Rejection } from '../../event/rejection.js';
import type { ResendMarks } from '../../event/resendMarks.js';
import { type EventRules } from '../../event/rules.js';
import { createProtocolCors } from './protocolCors.js';
import { sendNoContent } from './responses.js';

/**
 * The intake steps every compatible protocol (./posthog, ./plausible, ./umami, ./ga4,
 * ./snowplow) shares with the collector and the Segment API, so each protocol's folder holds
 * only its wire format and its mapping:
 * - bodies are read through ./body.ts (its wire and decompression caps), and a body whose
 *   first bytes are gzip's magic (1f 8b) is inflated whatever the headers say, as posthog-js
 *   sends gzip in `text/plain` with no Content-Encoding;
 * - the caps are the larger of `server.limits` and the original service's own (`OriginalLimits`),
 *   so no event its original service would take is refused for its size;
 * - every refusal is a `{code, message}` answer counted in
 *   `beacon_events_rejected_total{source=<protocol>,code}`; `received` counts each request
 *   once (a refused request as 1, a batch as its number of events), as ./commit.ts promises;
 * - `commit` emits once and resolves true only when the events are durable: the caller
 *   answers its 2xx after that, never before.
 */

export interface ProtocolDeps {
  server: ServerConfig;
  rules: EventRules;
  emit: Emit;
  metrics: Metrics;
  logger: Logger;
  /** Set while draining: every answer then closes its connection. */
  policy: { closeConnections: boolean };
  /** Present in `schemas.mode: strict`: refuses events whose props fail their schema. */
  schemaCheck?: StrictSchemaCheck | undefined;
  /** Where events with a client-given id are marked for the id memory (the enrichment chain's); unset: not marked. */
  marks?: ResendMarks | undefined;
}

/** What the original service accepts; each is raised to, never lowered below, `server.limits`. */
export interface OriginalLimits {
  bodyBytes?: number;
  decompressedBytes?: number;
  propsBytes?: number;
  /** Nesting levels of props the original stores (at most 64, the schema's cap, which keeps JSON.stringify's recursion bounded). */
  propsDepth?: number;
  batchEvents?: number;
}

export interface ProtocolIntake {
  /** The `source` label of this protocol's metrics and `meta.source` of its events. */
  readonly source: string;
  /** `server.limits` with the original's props size when larger. */
  readonly rules: EventRules;
  readonly bodyLimits: BodyLimits;
  readonly batchEvents: number;
  readonly cors: CorsPolicy;
  corsFor(req: IncomingMessage): HeaderMap | undefined;
  /** Counts `count` events as received (once per request). */
  received(count: number): void;
  /** Refuses the whole request: counts it as one received and one rejected unit and answers `{code, message}`. */
  refuse(req: IncomingMessage, res: ServerResponse, code: ErrorCode, message: string): void;
  /** 405 with Allow. */
  refuseMethod(req: IncomingMessage, res: ServerResponse, allow: string): void;
  /** Answers an OPTIONS preflight. */
  preflight(req: IncomingMessage, res: ServerResponse): void;
  /** The whole body, gunzipped when it starts with gzip's magic; undefined when refused (answered) or the client left. */
  body(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined>;
  /** Applies the strict schema check, which may turn an event into a rejection. */
  checked: IntakeCommit['checked'];
  /** Maps and checks each element of an accepted batch: the events to commit, and the refused ones by index (each counted). */
  checkEach: IntakeCommit['checkEach'];
  /** Emits once; true when durable (then answer 2xx), false when the refusal was answered. */
  commit(events: TrackedEvent[], req: IncomingMessage, res: ServerResponse, started: number): Promise<boolean>;
  closeIfDraining(res: ServerResponse): void;
}

const GZIP_MAGIC_0 = 0x1f;
/** The highest `server.limits.propsDepth` the config schema allows. */
const MAX_PROPS_DEPTH = 64;
const GZIP_MAGIC_1 = 0x8b;

export function isGzip(buffer: Buffer): boolean {
  return buffer.length >= 2 && buffer[0] === GZIP_MAGIC_0 && buffer[1] === GZIP_MAGIC_1;
}

export function createProtocolIntake(
  source: string,
  deps: ProtocolDeps,
  original: OriginalLimits = {},
): ProtocolIntake {
  const { server, emit, metrics, policy, schemaCheck } = deps;
  const logger = deps.logger.child({ component: source });
  const limits = server.limits;
  const bodyLimits: BodyLimits = compatibleBodyLimits(
    bodyLimitsFrom(limits),
    Math.max(original.bodyBytes ?? 0, original.decompressedBytes ?? 0),
  );
  const rules: EventRules = {
    ...deps.rules,
    propsBytes: Math.max(deps.rules.propsBytes, original.propsBytes ?? 0),
    propsDepth: Math.min(MAX_PROPS_DEPTH, Math.max(deps.rules.propsDepth, original.propsDepth ?? 0)),
  };
  const batchEvents = Math.max(limits.batchEvents, original.batchEvents ?? 0);
  const cors = createProtocolCors(server.cors);
  const intake = createIntakeCommit({ source, emit, metrics, logger, policy, schemaCheck });
  const corsFor = (req: IncomingMessage) => cors.headersFor(req.headers.origin);

  return {
    source,
    rules,
    bodyLimits,
    batchEvents,
    cors,
    corsFor,
    received: (count) => intake.received(count),
    refuse: (req, res, code, message) => intake.refuse(req, res, code, message, corsFor(req)),
    refuseMethod: (req, res, allow) => intake.refuseMethod(req, res, allow, corsFor(req)),
    preflight(req, res) {
      sendNoContent(res, cors.preflight(req.headers.origin, req.headers['access-control-request-headers']));
    },
    body: (req, res) =>
      intake.readOrRefuse(req, res, corsFor(req), async () => {
        const raw = await readBody(req, bodyLimits);
        return isGzip(raw) ? await decompress(raw, 'gzip', bodyLimits.decompressedBytes) : raw;
      }),
    checked: intake.checked,
    checkEach: intake.checkEach,
    commit: (events, req, res, started) => intake.commit(events, req, res, corsFor(req), started),
    closeIfDraining: intake.closeIfDraining,
  };
}

/** A body's text: UTF-8 without its byte order mark. */
export function bodyText(body: Buffer): string {
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A body as JSON text (any media type: the original services do not look at it), with its props size bound. */
export function parseJsonBody(body: Buffer): { value: unknown; bound: number } | Rejection {
  return parseJsonText(bodyText(body));
}

/** JSON text (a body's, see bodyText) parsed, with its props size bound. */
export function parseJsonText(text: string): { value: unknown; bound: number } | Rejection {
  try {
    return { value: JSON.parse(text) as unknown, bound: text.length * 6 + 2 };
  } catch (err) {
    return { code: 'BEACON_E_BAD_JSON', message: `invalid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
}
