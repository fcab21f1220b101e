import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServerConfig } from '../../../config/schema.js';
import type { RequestFacts } from '../../../event/fromSubmitted.js';
import type { ResendMarks } from '../../../event/resendMarks.js';
import type { EventRules } from '../../../event/rules.js';
import type { Metrics } from '../../../ops/metrics.js';
import type { StrictSchemaCheck } from '../../../schemas/schemaGate.js';
import type { Emit } from '../../source.js';
import { bodyLimitsFrom, readBody, type BodyLimits } from '../body.js';
import type { BrowserIntake } from '../browserIntake.js';
import { createIntakeCommit, type IntakeCommit } from '../commit.js';
import type { CorsPolicy, HeaderMap } from '../cors.js';
import type { LargeBodyGate } from '../largeBodies.js';
import { requestFacts } from '../requestFacts.js';

/** `POST /batch?forget=1`: the tracker's consent withdrawal; the answer deletes the identity cookies. */
const FORGET = /(?:^|&)forget=1(?:&|$)/;

/**
 * What Beacon's own endpoints (`GET /t/<type>`, `POST /t/<type>`, `POST /batch`) share: the
 * rules, the accounting (`received`, `countRejected`), refusing a whole request, reading a
 * body, the request's facts with the identity cookies, and the emit-and-answer step (../commit.ts).
 * The compatible protocols have their own (../protocolIntake.ts).
 */
export interface NativeIntake extends IntakeCommit {
  readonly rules: EventRules;
  readonly cors: CorsPolicy;
  readonly bodyLimits: BodyLimits;
  /** Bodies of `POST /batch`, which may be larger (`server.limits.batchBodyBytes`). */
  readonly batchBodyLimits: BodyLimits;
  readonly batchEvents: number;
  readonly schemaCheck: StrictSchemaCheck | undefined;
  readonly marks: ResendMarks | undefined;
  /** The checksum check of beacon.js bodies (../browserIntake.ts); unset: none. */
  readonly verifyChecksum: BrowserIntake['verifyChecksum'] | undefined;
  readonly logger: Logger;
  /** Reads the body, or answers why it could not be read and resolves undefined. */
  body(
    req: IncomingMessage,
    res: ServerResponse,
    corsHeaders: HeaderMap | undefined,
    limits?: BodyLimits,
  ): Promise<Buffer | undefined>;
  /** The request's facts with the ids `enrich.identity` assigns; their cookies go on `res`. */
  factsOf(req: IncomingMessage, res: ServerResponse, now: number, query?: string): RequestFacts;
}

export interface NativeIntakeDeps {
  config: ServerConfig;
  rules: EventRules;
  cors: CorsPolicy;
  /** One gate for every endpoint of the server: the bound is on the process's memory. */
  largeBodies: LargeBodyGate;
  emit: Emit;
  metrics: Metrics;
  /** The collector's logger (`component: http`). */
  logger: Logger;
  policy: { closeConnections: boolean };
  schemaCheck: StrictSchemaCheck | undefined;
  marks: ResendMarks | undefined;
  browser: BrowserIntake | undefined;
}

export function createNativeIntake(deps: NativeIntakeDeps): NativeIntake {
  const { config, rules, cors, largeBodies, emit, metrics, logger, policy } = deps;
  const bodyLimits = bodyLimitsFrom(config.limits, largeBodies);
  const batchBodyLimits = bodyLimitsFrom(config.limits, largeBodies, true);
  const trustProxy = config.trustProxy;
  const marks = deps.marks;
  const intakeCommit = createIntakeCommit({
    source: 'http',
    emit,
    metrics,
    logger,
    policy,
    schemaCheck: deps.schemaCheck,
  });
  const { closeIfDraining, readOrRefuse } = intakeCommit;
  const { identity, verifyChecksum } = deps.browser ?? {};

  function factsOf(req: IncomingMessage, res: ServerResponse, now: number, query?: string): RequestFacts {
    const facts = requestFacts(req, trustProxy, now, marks);
    if (identity === undefined) return facts;
    if (query !== undefined && FORGET.test(query)) identity.forget(req, res);
    else identity.identify(req, res, facts);
    return facts;
  }

  async function body(
    req: IncomingMessage,
    res: ServerResponse,
    corsHeaders: HeaderMap | undefined,
    limits: BodyLimits = bodyLimits,
  ): Promise<Buffer | undefined> {
    const buffer = await readOrRefuse(req, res, corsHeaders, () => readBody(req, limits));
    if (buffer !== undefined) closeIfDraining(res);
    return buffer;
  }

  return {
    ...intakeCommit,
    rules,
    cors,
    bodyLimits,
    batchBodyLimits,
    batchEvents: config.limits.batchEvents,
    schemaCheck: deps.schemaCheck,
    marks,
    verifyChecksum,
    logger,
    body,
    factsOf,
  };
}
