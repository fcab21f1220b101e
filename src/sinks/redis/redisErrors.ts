import type { ErrorReply } from 'redis';
import { SinkError } from '../sink.js';
import { redis } from '../../net/redisClient.js';

/**
 * How a Redis error maps to a failure kind:
 *
 * | error                                                        | kind                          |
 * |--------------------------------------------------------------|-------------------------------|
 * | `WRONGTYPE` (the key holds another type), `NOAUTH`, `WRONGPASS`, `NOPERM`, `EXECABORT` | fatal: the config can never work |
 * | `OOM`, `LOADING`, `BUSY`, `TRYAGAIN`, `READONLY`, `MASTERDOWN` and other replies | retry  |
 * | connection refused, closed, reset; timeouts                 | reconnect                     |
 */
const FATAL_REPLIES = /^(WRONGTYPE|NOAUTH|WRONGPASS|NOPERM|EXECABORT)\b/;

export function classifyRedisError(err: unknown, stage: string): SinkError {
  if (err instanceof SinkError) return err;
  const reply = firstReplyError(err);
  if (reply) {
    const word = reply.message.split(/\s/)[0] ?? 'ERR';
    const kind = FATAL_REPLIES.test(reply.message) ? 'fatal' : 'retry';
    const hint = word === 'WRONGTYPE' ? ' (the key exists with another type: pick another key or mode)' : '';
    return new SinkError(kind, `${stage} failed: ${reply.message}${hint}`, {
      errorType: `redis_${word.toLowerCase()}`,
      cause: err,
    });
  }
  const e = err as { message?: string; code?: unknown } | undefined;
  const { ConnectionTimeoutError, SocketTimeoutError, SocketClosedUnexpectedlyError, ClientClosedError } = redis();
  const timeout = err instanceof ConnectionTimeoutError || err instanceof SocketTimeoutError;
  const lost =
    err instanceof SocketClosedUnexpectedlyError || err instanceof ClientClosedError || typeof e?.code === 'string';
  if (timeout || lost) {
    const errorType = timeout ? 'timeout' : typeof e?.code === 'string' ? e.code.toLowerCase() : 'connection';
    return new SinkError('reconnect', `${stage} failed: ${e?.message ?? String(err)}`, { errorType, cause: err });
  }
  return new SinkError('retry', `${stage} failed: ${e?.message ?? String(err)}`, { errorType: 'redis', cause: err });
}

/** A MULTI whose replies hold errors reports them together; the first one says what went wrong. */
function firstReplyError(err: unknown): ErrorReply | undefined {
  const { MultiErrorReply, ErrorReply } = redis();
  if (err instanceof MultiErrorReply) {
    for (const reply of err.errors()) if (reply instanceof ErrorReply) return reply;
    return undefined;
  }
  return err instanceof ErrorReply ? err : undefined;
}
