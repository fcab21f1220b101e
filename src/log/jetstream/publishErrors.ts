import { errors } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';

/**
 * What a failed publish to the log's stream means:
 * - `full`: the stream is at its limits (discard: new refuses the message) or the server's
 *   JetStream storage is used up: the collector answers 503 BEACON_E_LOG_FULL with Retry-After.
 * - `config`: the subject reached a stream other than the log's (`expect` failed), or NATS
 *   refused this user: no retry fixes it.
 * - `transient`: no ack in time, no responders (a leader election, a node gone), a lost
 *   connection: sent again, with the same message id, until `appendTimeout`.
 */
export type PublishFailure = 'full' | 'config' | 'transient';

/** JetStream API error codes (nats-server's errors.json). */
export const JS_STORE_FAILED = 10077; // "maximum bytes exceeded", "maximum messages exceeded"
export const JS_INSUFFICIENT_RESOURCES = 10023;
export const JS_STREAM_NOT_MATCH = 10060; // "expected stream does not match"
export const JS_CONSUMER_NOT_FOUND = 10014;
export const JS_STREAM_NOT_FOUND = 10059;
export const JS_STREAM_NAME_IN_USE = 10058;

export function classifyPublishError(err: unknown): PublishFailure {
  if (err instanceof JetStreamApiError) {
    if (err.code === JS_STORE_FAILED && /maximum (bytes|messages) exceeded/i.test(err.message)) return 'full';
    if (err.code === JS_INSUFFICIENT_RESOURCES) return 'full';
    if (err.code === JS_STREAM_NOT_MATCH) return 'config';
    return 'transient';
  }
  if (err instanceof errors.AuthorizationError || err instanceof errors.PermissionViolationError) return 'config';
  return 'transient';
}

/** The JetStream API error code of `err`, if it is one. */
export function apiErrorCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}
