import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { BeaconError, isBeaconError } from '../../errors/beaconError.js';
import type { ErrorCode } from '../../errors/codes.js';
import { isRejection, type Rejection } from '../../event/rejection.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { Metrics } from '../../ops/metrics.js';
import type { StrictSchemaCheck } from '../../schemas/schemaGate.js';
import type { Emit } from '../source.js';
import { ClientGoneError } from './body.js';
import type { HeaderMap } from './cors.js';
import { sendError } from './responses.js';

/**
 * The accounting and emit-and-answer step every HTTP intake shares (the collector's native
 * endpoints, ./native/, the Segment and Snowplow APIs, and the compatible protocols through
 * ./protocolIntake.ts), so all keep the same promises: `received` counted once per request (a
 * refused request as 1, a batch as its number of events), every refusal a `{code, message}`
 * counted under the intake's `source`, one `emit` per call, a 2xx only after it resolved (the
 * caller writes it when `commit` resolves true), a failed emit answered as `{code, message}`
 * and its events counted as rejected once, and every answer after an await closing its
 * connection when a drain began meanwhile.
 */
export interface IntakeCommit {
  /** Counts `count` units as received (`beacon_events_received_total{source}`), once per request. */
  received(count?: number): void;
  /** Refuses the whole request: counts it as one received and one rejected unit and answers `{code, message}`. */
  refuse(
    req: IncomingMessage,
    res: ServerResponse,
    code: ErrorCode,
    message: string,
    corsHeaders: HeaderMap | undefined,
  ): void;
  /** 405 with Allow. */
  refuseMethod(req: IncomingMessage, res: ServerResponse, allow: string, corsHeaders: HeaderMap | undefined): void;
  /**
   * Runs `read` (a body read): its bytes, or undefined when the client left (nobody to answer:
   * the request was never received) or the read was refused (answered here).
   */
  readOrRefuse(
    req: IncomingMessage,
    res: ServerResponse,
    corsHeaders: HeaderMap | undefined,
    read: () => Promise<Buffer>,
  ): Promise<Buffer | undefined>;
  /** Applies the strict schema check, which may turn an event into a rejection. */
  checked(result: TrackedEvent | Rejection): TrackedEvent | Rejection;
  /** Maps and checks each element of an accepted batch: the events to commit, and the refused ones by index (each counted). */
  checkEach<T>(items: readonly T[], toEvent: (item: T, index: number) => TrackedEvent | Rejection): CheckedBatch;
  /** Counts `count` units as rejected with `code` under this intake's `source` label. */
  countRejected(code: ErrorCode, count?: number): void;
  /** After any await: a drain may have begun meanwhile, and its answers must close their connection. */
  closeIfDraining(res: ServerResponse): void;
  /** Emits once; resolves true when the events are durable, or answers the refusal and resolves false. */
  commit(
    events: TrackedEvent[],
    req: IncomingMessage,
    res: ServerResponse,
    corsHeaders: HeaderMap | undefined,
    started: number,
  ): Promise<boolean>;
}

/** A batch after `checkEach`: what a batch answer names as refused keeps its index in the request. */
export interface CheckedBatch {
  events: TrackedEvent[];
  rejected: Array<{ index: number; code: ErrorCode; message: string }>;
}

/** The refusal of a batch holding more than `max` elements: `<container> holds <count> <unit>; at most <max> are accepted`. */
export function batchTooLarge(container: string, count: number, unit: string, max: number): Rejection {
  return {
    code: 'BEACON_E_BATCH_TOO_LARGE',
    message: `${container} holds ${count} ${unit}; at most ${max} are accepted`,
  };
}

export interface IntakeCommitDeps {
  /** The `source` label of the intake's metrics (`http`, `segment`). */
  source: string;
  emit: Emit;
  metrics: Metrics;
  /** The intake's logger (unexpected emit failures are logged here). */
  logger: Logger;
  /** Shared with the server: set when every answer should close its connection (draining, or keep-alive off). */
  policy: { closeConnections: boolean };
  /** Present in `schemas.mode: strict`: refuses events whose props fail their schema. */
  schemaCheck?: StrictSchemaCheck | undefined;
}

export function createIntakeCommit(deps: IntakeCommitDeps): IntakeCommit {
  const { source, emit, metrics, logger, policy, schemaCheck } = deps;
  const ackSeconds = metrics.ingestAckSeconds.labels({ source });
  const receivedCounter = metrics.eventsReceived.labels({ source });

  function countRejected(code: ErrorCode, count = 1): void {
    metrics.eventsRejected.inc({ source, code }, count);
  }

  function closeIfDraining(res: ServerResponse): void {
    if (policy.closeConnections && !res.headersSent) res.setHeader('Connection', 'close');
  }

  async function commit(
    events: TrackedEvent[],
    req: IncomingMessage,
    res: ServerResponse,
    corsHeaders: HeaderMap | undefined,
    started: number,
  ): Promise<boolean> {
    try {
      await emit(events);
    } catch (err) {
      closeIfDraining(res);
      if (isBeaconError(err)) {
        countRejected(err.code, events.length);
        if (err.code === 'BEACON_E_LOG_FULL') metrics.logFull.inc();
        sendError(req, res, err, corsHeaders);
      } else {
        countRejected('BEACON_E_INTERNAL', events.length);
        logger.error({ err }, 'emit failed with an unexpected error; answered 500');
        sendError(
          req,
          res,
          new BeaconError('BEACON_E_INTERNAL', 'the events could not be stored; retry later'),
          corsHeaders,
        );
      }
      return false;
    }
    closeIfDraining(res);
    ackSeconds.observe((performance.now() - started) / 1000);
    return true;
  }

  function refuse(
    req: IncomingMessage,
    res: ServerResponse,
    code: ErrorCode,
    message: string,
    corsHeaders: HeaderMap | undefined,
  ): void {
    receivedCounter.inc();
    countRejected(code);
    closeIfDraining(res);
    sendError(req, res, new BeaconError(code, message), corsHeaders);
  }

  function refuseMethod(
    req: IncomingMessage,
    res: ServerResponse,
    allow: string,
    corsHeaders: HeaderMap | undefined,
  ): void {
    res.setHeader('Allow', allow);
    const message = `${req.method ?? '?'} is not allowed here; use ${allow}`;
    refuse(req, res, 'BEACON_E_METHOD_NOT_ALLOWED', message, corsHeaders);
  }

  async function readOrRefuse(
    req: IncomingMessage,
    res: ServerResponse,
    corsHeaders: HeaderMap | undefined,
    read: () => Promise<Buffer>,
  ): Promise<Buffer | undefined> {
    try {
      return await read();
    } catch (err) {
      // Nobody to answer (or the request timeout already did): the request was never received.
      if (err instanceof ClientGoneError) return undefined;
      if (!isBeaconError(err)) throw err;
      refuse(req, res, err.code, err.message, corsHeaders);
      return undefined;
    }
  }

  function checked(result: TrackedEvent | Rejection): TrackedEvent | Rejection {
    if (isRejection(result) || schemaCheck === undefined) return result;
    return schemaCheck(result) ?? result;
  }

  function checkEach<T>(
    items: readonly T[],
    toEvent: (item: T, index: number) => TrackedEvent | Rejection,
  ): CheckedBatch {
    const batch: CheckedBatch = { events: [], rejected: [] };
    items.forEach((item, index) => {
      const result = checked(toEvent(item, index));
      if (isRejection(result)) {
        batch.rejected.push({ index, code: result.code, message: result.message });
        countRejected(result.code);
      } else {
        batch.events.push(result);
      }
    });
    return batch;
  }

  return {
    received: (count = 1) => receivedCounter.inc(count),
    refuse,
    refuseMethod,
    readOrRefuse,
    checked,
    checkEach,
    countRejected,
    closeIfDraining,
    commit,
  };
}
