import { errors } from '@nats-io/transport-node';
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { SinkError, type SinkFailureKind } from '../sink.js';

/**
 * How a NATS client error maps to a failure kind:
 *
 * | error                                                | kind                                     |
 * |------------------------------------------------------|------------------------------------------|
 * | authorization, expired credentials, permissions      | fatal: the config can never work         |
 * | no responders on a JetStream publish (no stream)     | fatal: no stream captures the subject    |
 * | JetStream not enabled on the server or account       | fatal                                    |
 * | connection closed, refused, reset; timeout           | reconnect (a silent connection is replaced) |
 * | other JetStream API errors (storage full, ...)       | retry                                    |
 */
export function classifyNatsError(err: unknown, stage: string, subject?: string): SinkError {
  if (err instanceof SinkError) return err;
  const e = err as Error;
  const message = `${stage} failed: ${e?.message ?? String(err)}`;
  const fail = (kind: SinkFailureKind, errorType: string, text = message) =>
    new SinkError(kind, text, { errorType, cause: err });
  if (err instanceof errors.AuthorizationError || err instanceof errors.UserAuthenticationExpiredError)
    return fail('fatal', 'auth', `NATS refused the credentials: ${e.message}`);
  if (err instanceof errors.PermissionViolationError)
    return fail('fatal', 'permissions', `NATS permissions: ${e.message}; allow the user to publish there`);
  if (isNoResponders(err)) {
    const where = subject ? ` on subject "${subject}"` : '';
    return fail(
      'fatal',
      'no_stream',
      `no JetStream stream captures${where}: create a stream for it (or set stream: {name, subjects, create: true})`,
    );
  }
  if (err instanceof JetStreamError && /not enabled/i.test(e.message))
    return fail('fatal', 'jetstream_disabled', `JetStream is not enabled on the server or account: ${e.message}`);
  if (err instanceof JetStreamApiError) return fail('retry', `js_${err.code}`);
  if (
    err instanceof errors.ClosedConnectionError ||
    err instanceof errors.ConnectionError ||
    err instanceof errors.DrainingConnectionError ||
    err instanceof errors.TimeoutError ||
    (err instanceof errors.RequestError && /closed|disconnect|timeout/i.test(e.message))
  ) {
    return fail('reconnect', err instanceof errors.TimeoutError ? 'timeout' : 'connection');
  }
  const code = (err as { code?: unknown })?.code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE')
    return fail('reconnect', String(code).toLowerCase());
  return fail('retry', 'nats');
}

function isNoResponders(err: unknown): boolean {
  for (let e = err as { cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e instanceof errors.NoRespondersError) return true;
  }
  return false;
}

const SEVERITY: Record<SinkFailureKind, number> = { fatal: 3, reject: 2, reconnect: 1, retry: 0 };

/** One failure for a batch whose publishes failed in several ways: the one that asks the most. */
export function worstFailure(failures: readonly SinkError[], total: number): SinkError {
  const worst = failures.reduce((a, b) => (SEVERITY[b.kind] > SEVERITY[a.kind] ? b : a));
  return new SinkError(worst.kind, `${failures.length} of ${total} publishes failed: ${worst.message}`, {
    errorType: worst.errorType,
    cause: worst.cause,
  });
}
