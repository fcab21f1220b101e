import { z } from 'zod';
import { byteSize, duration } from '../../config/units.js';

const natsName = (what: string) =>
  z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, `a ${what} name is letters, digits, _ and - (at most 64)`);

/**
 * `log.type: jetstream`: the event log on a NATS JetStream stream, shared by every collector
 * and dispatcher process that names the same `servers` and `stream` (docs/log.md).
 */
export const jetstreamLogSchema = z.strictObject({
  type: z.literal('jetstream'),
  /** NATS servers to connect to; list every node of the cluster so a process reconnects to another when one dies. */
  servers: z.array(z.string().min(1)).min(1).default(['nats://127.0.0.1:4222']),
  /** The stream that holds the events: one per pipeline. Created on start when missing (see `create`). */
  stream: natsName('stream').default('beacon-events'),
  /** The subject events are published to; the stream captures exactly this subject. */
  subject: z
    .string()
    .regex(
      /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
      'a subject is dot-separated tokens of letters, digits, _ and - (no wildcards)',
    )
    .default('beacon.events'),
  /** Create the stream when it does not exist and bring its limits (maxBytes, maxAge, duplicateWindow, replicas) in line with this config; false uses an existing stream as it is. */
  create: z.boolean().default(true),
  /** Copies of every message in the cluster: 3 survives the loss of one node (write quorum 2); 1 is a single node. */
  replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
  /** Most bytes the stream holds; at it, appends are refused (discard: new) and the collector answers 503 until sinks catch up. */
  maxBytes: byteSize().default(10 * 1024 ** 3),
  /** Messages older than this are removed even when a sink has not delivered them (0: never; the default, as the local log). */
  maxAge: duration().default(0),
  /** JetStream drops a message whose id (the event id) it stored within this window, so a retried append is stored once. */
  duplicateWindow: duration().default(120_000),
  /** How long a dispatcher may hold a message without acking before JetStream gives it to another; a dispatcher that still works on it extends this. */
  ackWait: duration().default(30_000),
  /** Most messages one sink's consumer has handed out and not yet had acked, over all dispatchers. */
  maxAckPending: z.number().int().min(1).default(20_000),
  /** How long one publish waits for JetStream's ack before it is sent again (same message id, so never stored twice). */
  publishTimeout: duration().default(5000),
  /** How long an append keeps trying (a leader election, a reconnect) before it fails with 503 BEACON_E_LOG_UNAVAILABLE. */
  appendTimeout: duration().default(15_000),
  /** How long start-up waits for a server of `servers` (and the stream) before it stops with BEACON_E_LOG_UNAVAILABLE. */
  connectTimeout: duration().default(30_000),
  /** Retry-After sent with 503 when the stream is full. */
  retryAfterSeconds: z.number().int().min(1).default(5),
  user: z.string().optional(),
  pass: z.string().optional(),
  token: z.string().optional(),
});

export type JetStreamLogConfig = z.output<typeof jetstreamLogSchema>;
