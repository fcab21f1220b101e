import { defineInternalEvent, type InternalEventInfo } from '../ops/internalEvent.js';

/**
 * The sources' internal events, each defined once (docs/operations.md lists them). A source's
 * logger already names the source (`source` on every line). Addresses in messages are
 * redacted by the caller (no password).
 */

/** The broker connection failed or was lost; the message is the client's words with a hint. */
const sourceConnectionError = defineInternalEvent<
  { err: string | undefined; code: string | undefined },
  undefined,
  string
>('source_connection_error', {
  about: 'a queue source cannot reach its broker or lost it; it reconnects with back-off',
  level: 'error',
  fields: { err: true, code: true },
  message: (_f, description) => `amqp source: ${description}`,
});

/** The context is where it connected (redacted URL or host:port vhost). */
const sourceConnected = defineInternalEvent<Record<never, never>, undefined, string>('source_connected', {
  about: 'a queue source is connected to its broker',
  level: 'info',
  fields: {},
  message: (_f, where) => `amqp source connected to ${where}`,
});

/** The context is the queue and the client's words with a hint. */
const sourceConsumerError = defineInternalEvent<
  { err: string | undefined; code: string | undefined },
  undefined,
  string
>('source_consumer_error', {
  about: 'a queue source cannot consume from its queue (missing, access refused...)',
  level: 'error',
  fields: { err: true, code: true },
  message: (_f, description) => `amqp source ${description}`,
});

const sourceRefused = defineInternalEvent<{ err: string; pauseMs: number }>('source_refused', {
  about: 'the log refused a queue message (full or closing); it is requeued and the source pauses `pauseMs`',
  level: 'warn',
  fields: { err: true, pauseMs: true },
  message: 'amqp source: the log refused a message; requeued',
});

export const SOURCE_EVENTS = {
  sourceConnected,
  sourceConnectionError,
  sourceConsumerError,
  sourceRefused,
};

export const SOURCE_EVENT_CATALOGUE: readonly InternalEventInfo[] = Object.values(SOURCE_EVENTS).map((e) => e.info);
