import {
  AckPolicy,
  DeliverPolicy,
  ReplayPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { BeaconError } from '../../errors/beaconError.js';
import type { SeekTarget } from '../eventLog.js';
import type { JetStreamLogConfig } from './jetstreamConfig.js';
import { apiErrorCode, JS_CONSUMER_NOT_FOUND } from './publishErrors.js';

const NS_PER_MS = 1_000_000;

/** Where a (re)created consumer starts. */
export type ConsumerStart =
  { kind: 'all' } | { kind: 'new' } | { kind: 'seq'; seq: number } | { kind: 'time'; ts: number };

/**
 * A sink's durable consumer. Explicit acks (the dispatcher acks what it delivered);
 * `max_deliver: -1` so a message is redelivered for as long as it takes, never given up on;
 * replicas follow the stream's, so the consumer's state survives a node as the messages do.
 */
export function durableConfig(config: JetStreamLogConfig, name: string, start: ConsumerStart): Partial<ConsumerConfig> {
  return {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: config.ackWait * NS_PER_MS,
    max_ack_pending: config.maxAckPending,
    max_deliver: -1,
    filter_subject: config.subject,
    ...startFields(start),
  };
}

function startFields(start: ConsumerStart): Partial<ConsumerConfig> {
  switch (start.kind) {
    case 'all':
      return { deliver_policy: DeliverPolicy.All };
    case 'new':
      return { deliver_policy: DeliverPolicy.New };
    case 'seq':
      return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, start.seq) };
    case 'time':
      return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(start.ts).toISOString() };
  }
}

/** A consumer that does not exist reads as undefined; other errors are thrown. */
export async function consumerInfo(
  jsm: JetStreamManager,
  stream: string,
  name: string,
): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (err) {
    if (apiErrorCode(err) === JS_CONSUMER_NOT_FOUND) return undefined;
    throw err;
  }
}

/**
 * Makes sure the durable consumer exists. A new one starts at the first retained message (as a
 * new local cursor does); an existing one keeps its position and gets this config's ack wait
 * and max ack pending. Creating one that another process created meanwhile is harmless: the
 * server answers with the existing consumer when the config is the same.
 */
export async function ensureDurable(
  jsm: JetStreamManager,
  config: JetStreamLogConfig,
  name: string,
  logger: Logger,
): Promise<ConsumerInfo> {
  const info = await consumerInfo(jsm, config.stream, name);
  if (!info) {
    const created = await jsm.consumers.add(config.stream, durableConfig(config, name, { kind: 'all' }));
    logger.info({ stream: config.stream, consumer: name }, 'created the durable consumer of a sink');
    return created;
  }
  if (info.config.filter_subject && info.config.filter_subject !== config.subject) {
    // It would never see what is appended now: the sink would silently get nothing.
    throw new BeaconError(
      'BEACON_E_LOG_CONFIG',
      `the consumer "${name}" of stream "${config.stream}" reads subject ${info.config.filter_subject}, but log.subject is ${config.subject}: set log.subject back, or remove the consumer (nats consumer rm ${config.stream} ${name}) after its sink caught up`,
      { field: 'log.subject' },
    );
  }
  const want = durableConfig(config, name, { kind: 'all' });
  if (
    info.config.ack_wait !== want.ack_wait ||
    info.config.max_ack_pending !== want.max_ack_pending ||
    info.config.max_deliver !== -1
  ) {
    return jsm.consumers.update(config.stream, name, {
      ack_wait: want.ack_wait,
      max_ack_pending: want.max_ack_pending,
      max_deliver: -1,
    });
  }
  return info;
}

/**
 * Moves a durable consumer, for replay: JetStream cannot change a consumer's start, so it is
 * deleted and created again at `start`. In an interest stream, deleting the consumer would drop
 * at once every message only it still needed, which a replay from the start wants back; so for
 * any start but `new` a temporary consumer holds every retained message while the switch
 * happens (it lapses by itself if this process dies meanwhile).
 */
export async function recreateDurable(
  jsm: JetStreamManager,
  config: JetStreamLogConfig,
  name: string,
  start: ConsumerStart,
): Promise<ConsumerInfo> {
  let holder: string | undefined;
  if (start.kind !== 'new') {
    const held = await jsm.consumers.add(config.stream, {
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: config.subject,
      inactive_threshold: 60_000 * NS_PER_MS,
      description: `beacon: holds retained events while consumer ${name} moves for a replay`,
    });
    holder = held.name;
  }
  try {
    await jsm.consumers.delete(config.stream, name).catch((err: unknown) => {
      if (apiErrorCode(err) !== JS_CONSUMER_NOT_FOUND) throw err;
    });
    return await jsm.consumers.add(config.stream, durableConfig(config, name, start));
  } finally {
    if (holder) await jsm.consumers.delete(config.stream, holder).catch(() => undefined);
  }
}

/** A replay target as a consumer start; `position` uses its `seq` (the stream sequence to start at). */
export function startFor(target: SeekTarget): ConsumerStart {
  switch (target.kind) {
    case 'start':
      return { kind: 'all' };
    case 'end':
      return { kind: 'new' };
    case 'time':
      return { kind: 'time', ts: target.ts };
    case 'position': {
      // Checked against the stream first (positionRange.ts); never read a bad one as "from the start".
      const seq = target.position.seq;
      if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0) return { kind: 'seq', seq };
      throw new BeaconError(
        'BEACON_E_REPLAY_POSITION',
        `a position on the jetstream log is {"seq": <stream sequence of at least 1>}, not ${JSON.stringify(target.position).slice(0, 100)}`,
      );
    }
  }
}

/**
 * An ephemeral consumer for a cursor that is never persisted (`beacon tail`, the live stream):
 * no acks, in memory, one replica, and removed by the server once unused for a minute (so a
 * crashed process leaves nothing behind that holds messages).
 */
export async function createEphemeral(
  jsm: JetStreamManager,
  config: JetStreamLogConfig,
  start: ConsumerStart,
): Promise<string> {
  const info = await jsm.consumers.add(config.stream, {
    ack_policy: AckPolicy.None,
    replay_policy: ReplayPolicy.Instant,
    filter_subject: config.subject,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: 60_000 * NS_PER_MS,
    ...startFields(start),
  });
  return info.name;
}

/** Durable consumers of the stream that are none of `expected` (a sink removed from the config still holds its events). */
export async function foreignDurables(
  jsm: JetStreamManager,
  stream: string,
  expected: ReadonlySet<string>,
): Promise<{ name: string; pending: number }[]> {
  const out: { name: string; pending: number }[] = [];
  for await (const info of jsm.consumers.list(stream)) {
    if (!info.config.durable_name || expected.has(info.name)) continue;
    out.push({ name: info.name, pending: info.num_pending + info.num_ack_pending });
  }
  return out;
}
