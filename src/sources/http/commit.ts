import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { BeaconError, isBeaconError } from '../../errors/beaconError.js';
import type { ErrorCode } from '../../errors/codes.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { Metrics } from '../../ops/metrics.js';
import type { Emit } from '../source.js';
import type { HeaderMap } from './cors.js';
import { sendError } from './responses.js';

/**
 * The emit-and-answer step the HTTP intakes share (the collector, ./collector.ts, and the
 * Segment API, ./segment/segmentApi.ts), so both keep the same promises: one `emit` per call,
 * a 2xx only after it resolved (the caller writes it when `commit` resolves true), a failed
 * emit answered as `{code, message}` and its events counted as rejected once, and every answer
 * after an await closing its connection when a drain began meanwhile.
 */
export interface IntakeCommit {
  /** Counts `count` units as rejected with `code` under this intake's `source` label. */
  countRejected(code: ErrorCode, count?: number): void;
  /** After any await: a drain may have begun meanwhile, and its answers must close their connection. */
  closeIfDraining(res: ServerResponse): void;
  /** Emits once; resolves true when the events are durable, or answers the refusal and resolves false. */
  commit(events: TrackedEvent[], req: IncomingMessage, res: ServerResponse, corsHeaders: HeaderMap | undefined, started: number): Promise<boolean>;
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
}

export function createIntakeCommit(deps: IntakeCommitDeps): IntakeCommit {
  const { source, emit, metrics, logger, policy } = deps;
  const ackSeconds = metrics.ingestAckSeconds.labels({ source });

  function countRejected(code: ErrorCode, count = 1): void {
    metrics.eventsRejected.inc({ source, code }, count);
  }

  function closeIfDraining(res: ServerResponse): void {
    if (policy.closeConnections && !res.headersSent) res.setHeader('Connection', 'close');
  }

  async function commit(events: TrackedEvent[], req: IncomingMessage, res: ServerResponse, corsHeaders: HeaderMap | undefined, started: number): Promise<boolean> {
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
        sendError(req, res, new BeaconError('BEACON_E_INTERNAL', 'the events could not be stored; retry later'), corsHeaders);
      }
      return false;
    }
    closeIfDraining(res);
    ackSeconds.observe((performance.now() - started) / 1000);
    return true;
  }

  return { countRejected, closeIfDraining, commit };
}
