import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { BeaconError } from '../../errors/beaconError.js';
import type { JetStreamLogConfig } from './jetstreamConfig.js';
import { apiErrorCode, JS_STREAM_NAME_IN_USE, JS_STREAM_NOT_FOUND } from './publishErrors.js';

const NS_PER_MS = 1_000_000;

/**
 * The stream Beacon needs, and why each setting:
 * - `retention: interest`: a message stays until every sink's consumer acked it, as the local
 *   log keeps a segment until every cursor passed it. (`limits` would drop undelivered events
 *   at `max_bytes` or keep delivered ones forever; `workqueue` allows one consumer per subject.)
 * - `discard: new`: a full stream refuses the new message, so the collector answers 503, and
 *   never silently drops an old one that a sink has not delivered.
 * - `storage: file`: a memory stream loses everything when its servers restart.
 * - `duplicate_window`: appends are published with the event id as message id, so a publish
 *   sent again after a lost ack is stored once.
 * - `max_bytes` is `streamMaxBytes`: above `log.maxBytes`, which Beacon enforces itself.
 */
export function streamConfigFor(config: JetStreamLogConfig): StreamConfig {
  return {
    name: config.stream,
    subjects: [config.subject],
    retention: RetentionPolicy.Interest,
    discard: DiscardPolicy.New,
    storage: StorageType.File,
    num_replicas: config.replicas,
    max_bytes: streamMaxBytes(config.maxBytes),
    max_age: config.maxAge * NS_PER_MS,
    duplicate_window: config.duplicateWindow * NS_PER_MS,
    max_msgs: -1,
    max_msgs_per_subject: -1,
    max_msg_size: -1,
    max_consumers: -1,
  } as StreamConfig;
}

/**
 * The stream's own byte limit: `log.maxBytes` plus a tenth (at least 1 MiB). nats-server 2.9
 * checks `discard: new` against the payload's size but stores a larger record, so at its exact
 * limit a new message can be let in and the *oldest* one evicted to make room: an event acked
 * and not yet delivered would be lost. Collectors therefore refuse appends at `log.maxBytes`
 * themselves (from the stream's byte count) and JetStream's limit sits above, as a backstop that
 * in-flight appends cannot reach.
 */
export function streamMaxBytes(maxBytes: number): number {
  return maxBytes + Math.max(1024 * 1024, Math.ceil(maxBytes / 10));
}

/**
 * Makes sure the log's stream exists and fits: creates it when missing (with `create`), brings
 * its limits in line with the config, and refuses (BEACON_E_LOG_CONFIG) a stream whose
 * retention, discard policy, storage or subjects would break the log's promises.
 * JetStream may still be electing its leaders when a cluster starts: such errors are retried
 * until `deadline`.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: JetStreamLogConfig,
  logger: Logger,
  deadline: number,
): Promise<StreamInfo> {
  return retryUntil(deadline, `set up the JetStream stream "${config.stream}"`, async () => {
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(config.stream);
    } catch (err) {
      if (apiErrorCode(err) !== JS_STREAM_NOT_FOUND) throw err;
      if (!config.create) {
        throw new BeaconError(
          'BEACON_E_LOG_CONFIG',
          `the JetStream stream "${config.stream}" does not exist and log.create is false: create it (subject ${config.subject}, retention interest, discard new, file storage) or set log.create: true`,
          { field: 'log.stream' },
        );
      }
      try {
        info = await jsm.streams.add(streamConfigFor(config));
        logger.info(
          { stream: config.stream, subject: config.subject, replicas: config.replicas },
          'created the JetStream stream of the log',
        );
        return info;
      } catch (addErr) {
        // Another collector or dispatcher created it a moment ago: check what it made.
        if (apiErrorCode(addErr) !== JS_STREAM_NAME_IN_USE) throw refusal(addErr, config) ?? addErr;
        info = await jsm.streams.info(config.stream);
      }
    }
    return reconcile(jsm, info, config, logger);
  });
}

async function reconcile(
  jsm: JetStreamManager,
  info: StreamInfo,
  config: JetStreamLogConfig,
  logger: Logger,
): Promise<StreamInfo> {
  const have = info.config;
  const problem = (setting: string, got: unknown, want: string) =>
    new BeaconError(
      'BEACON_E_LOG_CONFIG',
      `the JetStream stream "${config.stream}" has ${setting} ${JSON.stringify(got)}; Beacon's log needs ${want}. Remove the stream (nats stream rm ${config.stream}) so Beacon creates it, or set log.stream to another name`,
      { field: 'log.stream', setting },
    );
  if (have.retention !== RetentionPolicy.Interest)
    throw problem('retention', have.retention, 'interest (a message stays until every sink acked it)');
  if (have.discard !== DiscardPolicy.New)
    throw problem('discard', have.discard, 'new (a full log refuses appends rather than dropping undelivered events)');
  if (have.storage !== StorageType.File)
    throw problem('storage', have.storage, 'file (memory storage loses the log when NATS restarts)');
  const want = streamConfigFor(config);
  const hasSubject = (have.subjects ?? []).includes(config.subject);
  if (!config.create) {
    if (!hasSubject) throw problem('subjects', have.subjects, `to capture ${config.subject} (log.subject)`);
    return info;
  }
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of ['max_bytes', 'max_age', 'duplicate_window', 'num_replicas'] as const) {
    if (have[key] !== want[key]) changes[key] = { from: have[key], to: want[key] };
  }
  if (!hasSubject) changes.subjects = { from: have.subjects, to: [...(have.subjects ?? []), config.subject] };
  if (Object.keys(changes).length === 0) return info;
  try {
    const updated = await jsm.streams.update(config.stream, {
      ...have,
      subjects: hasSubject ? have.subjects : [...(have.subjects ?? []), config.subject],
      max_bytes: want.max_bytes,
      max_age: want.max_age,
      duplicate_window: want.duplicate_window,
      num_replicas: want.num_replicas,
    });
    logger.info({ stream: config.stream, changes }, 'brought the JetStream stream of the log in line with log.*');
    return updated;
  } catch (err) {
    throw refusal(err, config) ?? err;
  }
}

/**
 * JetStream errors about the stream's config itself, which no retry fixes: 10052 invalid config,
 * 10065 subjects overlap another stream, 10074 replicas above 1 on a server without a cluster,
 * 10023 not enough JetStream storage for `max_bytes` (the whole of it is reserved on every
 * replica's server at creation). The rest (10008 "temporarily unavailable", 10005 "no suitable
 * peers" while nodes join, timeouts) is retried until the start-up deadline.
 */
const STREAM_CONFIG_ERRORS = new Set([10023, 10052, 10065, 10074]);

function refusal(err: unknown, config: JetStreamLogConfig): BeaconError | undefined {
  const code = apiErrorCode(err);
  if (code === undefined || !STREAM_CONFIG_ERRORS.has(code)) return undefined;
  return new BeaconError(
    'BEACON_E_LOG_CONFIG',
    `JetStream refused the stream "${config.stream}" (subject ${config.subject}, replicas ${config.replicas}): ${(err as Error).message}. Fix log.* (maxBytes is reserved whole on each replica's server, within its jetstream max_file_store; replicas above 1 need a cluster with that many JetStream servers; another stream may already capture the subject)`,
    { field: 'log', jsCode: code },
    { cause: err },
  );
}

/** Runs `fn` until it succeeds, a BeaconError (a verdict, not a hiccup) is thrown, or `deadline` passes. */
export async function retryUntil<T>(deadline: number, what: string, fn: () => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof BeaconError) throw err;
      lastError = err;
      if (Date.now() >= deadline) break;
      await new Promise((r) =>
        setTimeout(r, Math.min(200 * 2 ** Math.min(attempt, 3), Math.max(0, deadline - Date.now()))),
      );
    }
  }
  throw new BeaconError(
    'BEACON_E_LOG_UNAVAILABLE',
    `could not ${what} in time: ${(lastError as Error)?.message ?? 'no answer'}. Check that the NATS servers of log.servers are up with JetStream enabled and, in a cluster, that a majority of them is reachable`,
    undefined,
    { cause: lastError },
  );
}
