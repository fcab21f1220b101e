import { SinkError } from '../sink.js';

/**
 * How a kafkajs failure maps to a failure kind. kafkajs wraps the broker's answer (a
 * KafkaJSProtocolError with the protocol `type`) in retry errors, so the chain of causes is
 * searched for the most telling one.
 *
 * | failure                                                               | kind      |
 * |-----------------------------------------------------------------------|-----------|
 * | MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD, CORRUPT_MESSAGE, INVALID_TOPIC_EXCEPTION, INVALID_TIMESTAMP | reject: the dispatcher bisects to the bad events |
 * | TOPIC/CLUSTER_AUTHORIZATION_FAILED, SASL errors, UNSUPPORTED_COMPRESSION_TYPE, INVALID_REQUIRED_ACKS, TLS certificate errors | fatal: config or credentials |
 * | OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, UNKNOWN_PRODUCER_ID | reconnect: the idempotent session is spoiled, start a new producer |
 * | connection refused / closed, no broker available                      | reconnect |
 * | request timeout, other retriable protocol errors (NOT_LEADER..., NOT_ENOUGH_REPLICAS) | retry |
 * | anything else                                                         | retry (events wait in the log; the error is reported) |
 */
const REJECT = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_TIMESTAMP',
]);
const FATAL = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'INVALID_REQUIRED_ACKS',
]);
const NEW_SESSION = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
]);
const CONNECTION = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
]);
const TLS_CODES = /^(CERT_|ERR_TLS_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_SSL_)/;

interface KafkaLikeError {
  name?: string;
  message?: string;
  type?: string;
  code?: unknown;
  retriable?: boolean;
  cause?: unknown;
  originalError?: unknown;
}

function causes(err: unknown): KafkaLikeError[] {
  const chain: KafkaLikeError[] = [];
  let e: unknown = err;
  while (e && typeof e === 'object' && chain.length < 8 && !chain.includes(e as KafkaLikeError)) {
    chain.push(e as KafkaLikeError);
    const next = (e as KafkaLikeError).cause ?? (e as KafkaLikeError).originalError;
    e = next;
  }
  return chain;
}

export function classifyKafkaError(err: unknown): SinkError {
  const chain = causes(err);
  const top = chain[0];
  const message = `kafka: ${
    chain
      .map((e) => e.message)
      .filter(Boolean)
      .filter((m, i, all) => all.indexOf(m) === i)
      .join(': ') || String(err)
  }`;
  const protocol = chain.find((e) => typeof e.type === 'string');
  if (protocol?.type) {
    const type = protocol.type;
    const errorType = type.toLowerCase();
    if (REJECT.has(type)) return new SinkError('reject', message, { errorType, cause: err });
    if (FATAL.has(type)) return new SinkError('fatal', message, { errorType, cause: err });
    if (NEW_SESSION.has(type)) return new SinkError('reconnect', message, { errorType, cause: err });
    return new SinkError('retry', message, { errorType, cause: err });
  }
  if (chain.some((e) => e.name === 'KafkaJSSASLAuthenticationError'))
    return new SinkError('fatal', message, { errorType: 'sasl_authentication', cause: err });
  const tls = chain.find((e) => typeof e.code === 'string' && TLS_CODES.test(e.code));
  if (tls) return new SinkError('fatal', message, { errorType: 'tls', cause: err });
  if (chain.some((e) => CONNECTION.has(e.name ?? '')))
    return new SinkError('reconnect', message, { errorType: 'connection', cause: err });
  if (chain.some((e) => e.name === 'KafkaJSRequestTimeoutError' || e.name === 'KafkaJSTimeout'))
    return new SinkError('retry', message, { errorType: 'timeout', cause: err });
  return new SinkError('retry', message, {
    errorType: top?.name === 'KafkaJSNumberOfRetriesExceeded' ? 'retries_exceeded' : 'kafka',
    cause: err,
  });
}
