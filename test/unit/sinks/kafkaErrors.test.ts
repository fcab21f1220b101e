import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { redactConfig } from '../../../src/config/redact.js';
import { classifyKafkaError } from '../../../src/sinks/kafka/errorClass.js';

const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode(code: number): Error;
};
const {
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSSASLAuthenticationError,
  KafkaJSRequestTimeoutError,
} = kafkajs;

/** Broker answers as kafkajs raises them, usually wrapped in its retrier's error. */
const wrapped = (code: number) =>
  new KafkaJSNumberOfRetriesExceeded(createErrorFromCode(code), { retryCount: 2, retryTime: 100 });

describe('kafka failure classification', () => {
  for (const [code, name, kind] of [
    [10, 'MESSAGE_TOO_LARGE', 'reject'],
    [87, 'INVALID_RECORD', 'reject'],
    [17, 'INVALID_TOPIC_EXCEPTION', 'reject'],
    [29, 'TOPIC_AUTHORIZATION_FAILED', 'fatal'],
    [58, 'SASL_AUTHENTICATION_FAILED', 'fatal'],
    [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'reconnect'],
    [6, 'NOT_LEADER_FOR_PARTITION', 'retry'],
    [19, 'NOT_ENOUGH_REPLICAS', 'retry'],
  ] as const) {
    it(`treats ${name} as ${kind}, also when wrapped by the retrier`, () => {
      for (const err of [createErrorFromCode(code), wrapped(code)]) {
        const e = classifyKafkaError(err);
        assert.equal(e.kind, kind);
        assert.equal(e.errorType, name.toLowerCase());
      }
    });
  }

  it('reconnects on connection errors and retries on timeouts', () => {
    assert.equal(
      classifyKafkaError(
        new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', {
          broker: 'b:9092',
          code: 'ECONNREFUSED',
        } as never),
      ).kind,
      'reconnect',
    );
    assert.equal(
      classifyKafkaError(new KafkaJSRequestTimeoutError('Request Produce timed out', {} as never)).kind,
      'retry',
    );
  });

  it('stops on SASL and TLS certificate failures: those are config', () => {
    assert.equal(
      classifyKafkaError(
        new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)('SASL PLAIN authentication failed'),
      ).kind,
      'fatal',
    );
    const tls = new KafkaJSConnectionError('self-signed certificate', {
      broker: 'b:9093',
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    } as never);
    assert.equal(classifyKafkaError(tls).errorType, 'tls');
  });

  it('redacts the SASL password, the TLS passphrase and the registry password', () => {
    const config = {
      sinks: [
        {
          type: 'kafka',
          name: 'k',
          brokers: ['b:9092'],
          sasl: { mechanism: 'plain', username: 'u', password: 'p1' },
          ssl: { passphrase: 'p2' },
          avro: { schemaRegistry: { url: 'http://r', auth: { username: 'u', password: 'p3' } } },
        },
      ],
    };
    const text = JSON.stringify(redactConfig(config));
    for (const secret of ['p1', 'p2', 'p3']) assert.ok(!text.includes(`"${secret}"`), `${secret} is redacted`);
  });
});
