import { SinkError, type SinkFailureKind } from '../sink.js';

/**
 * How a RabbitMQ failure maps to a failure kind, with a message that says what to fix:
 *
 * | failure                                            | kind      |
 * |----------------------------------------------------|-----------|
 * | ACCESS_REFUSED (bad user/password, no permission)   | fatal     |
 * | NOT_ALLOWED (vhost missing or not granted)          | fatal     |
 * | PRECONDITION_FAILED (declared with other arguments) | fatal     |
 * | NOT_FOUND (exchange or queue missing)               | retry (it may be created later; probed at maxFailoverDuration) |
 * | refused, reset, closed, timed out, heartbeat lost   | reconnect |
 */
export function classifyAmqpError(
  err: unknown,
  where: { host: string; port: number; vhost: string; user: string },
): SinkError {
  const e = err as { code?: unknown; message?: string; cause?: { code?: unknown; message?: string } } | undefined;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : 'network';
  const detail = e?.message ?? String(err);
  const at = `${where.host}:${where.port} vhost "${where.vhost}"`;
  let kind: SinkFailureKind = 'reconnect';
  let message = `rabbitmq ${at}: ${detail}`;
  switch (code) {
    case 'ACCESS_REFUSED':
      kind = 'fatal';
      message = `rabbitmq ${at} refused user "${where.user}" (${detail}): check user and password, and that the user has configure/write permissions on the vhost`;
      break;
    case 'NOT_ALLOWED':
      kind = 'fatal';
      message = `rabbitmq ${at} is not available to user "${where.user}" (${detail}): check the vhost name, or create it and grant the user access (rabbitmqctl add_vhost / set_permissions)`;
      break;
    case 'PRECONDITION_FAILED':
      kind = 'fatal';
      message = `rabbitmq ${at}: ${detail}: the exchange or queue exists with other settings; match declare.exchangeType/durable to it or turn declare off`;
      break;
    case 'NOT_FOUND':
      kind = 'retry';
      message = `rabbitmq ${at}: ${detail}: create the exchange or queue, or set declare: true`;
      break;
  }
  return new SinkError(kind, message, { errorType: code.toLowerCase(), cause: err });
}
