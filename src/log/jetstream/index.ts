/**
 * The JetStream event log (`log.type: jetstream`). Read README.md in this folder first: it
 * lists the promises this module keeps and how each maps onto JetStream.
 */
export { JetStreamLog, openJetStreamLog, messageIdOf, type JetStreamLogOptions } from './jetstreamLog.js';
export { jetstreamLogSchema, type JetStreamLogConfig } from './jetstreamConfig.js';
export { consumerNameFor } from './consumerName.js';
