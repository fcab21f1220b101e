import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { LoadedConfig } from '../config/load.js';
import { BeaconError } from '../errors/beaconError.js';
import type { ErrorCode } from '../errors/codes.js';
import { PartitionWriter } from '../log/local/index.js';
import { adminFallback } from '../api/nodeAdapter.js';
import type { AdminResponse } from '../api/adminRequest.js';
import { IpcFeed } from '../live/index.js';
import { readIntakeTotals } from '../ops/ledgerTotals.js';
import { createProcessContext, type ProcessContext } from './parts/processContext.js';
import { logListening, startIntake } from './parts/intake.js';
import { startLiveEndpoint } from './parts/live.js';
import { logPart } from './parts/log.js';
import type { Part } from './parts/part.js';
import { localLogOptions } from './localLogOptions.js';
import { PendingReplies } from './ipc.js';
import { serve } from './parts/signals.js';
import type { FromDeliveryThread, ToDeliveryThread } from './threadLink.js';

/**
 * The single process on two threads (`server.deliveryThread`): this thread takes events in
 * (HTTP, enrichment, the group-committed writer of log partition p0) and a worker thread
 * delivers them (deliveryThreadMain.ts: reader, cursors, sinks, store, alerts, API). The log
 * files are the hand-off, as between the cluster's collectors and primary: only the durable
 * watermark (one message per group commit), admin requests, metrics and live batches cross.
 *
 * Parts here: log writer, live (linked to the thread's feed), intake (+ queue sources), and the
 * delivery thread itself as the `delivery` part. Stop: intake drains, the writer syncs and
 * closes, then the thread stops its sinks (they flush, cursors commit) and says so.
 */
export async function runWithDeliveryThread(loaded: LoadedConfig, worker: Worker): Promise<void> {
  const { config } = loaded;
  const ctx = createProcessContext(config, { role: 'all' });
  const { parts, metrics } = ctx;
  const base = localLogOptions(config, metrics);
  // Recovered (a torn tail cut) before the thread opens its reader, so the reader never sees bytes about to be cut.
  const writer = await PartitionWriter.open({ ...base, dir: join(base.dir, 'p0') });
  parts.add(logPart(writer, 'logWriter'));
  const thread = await startDeliveryThread(ctx, worker, writer.durableSeq, () =>
    writer.refreshUsage().catch(() => undefined),
  );
  parts.add(thread);
  writer.onDurable((seq) => thread.post({ t: 'durable', seq }));

  const live = parts.add(startLiveEndpoint(ctx, thread.liveFeed));
  const intake = parts.add(
    await startIntake(ctx, {
      append: async (events) => {
        try {
          await writer.append(events);
        } catch (err) {
          // Full: give retention a chance now rather than at its next tick.
          if ((err as { code?: unknown }).code === 'BEACON_E_LOG_FULL') thread.post({ t: 'logFull' });
          throw err;
        }
      },
      fallback: adminFallback(thread.admin),
      onUpgrade: live.onUpgrade,
      queues: true,
      recoveredIds: () => writer.takeRecoveredIds(),
    }),
  );
  thread.post({ t: 'intakeReady', ready: true });
  parts.onStopping(() => thread.post({ t: 'intakeReady', ready: false }));
  // The thread keeps the throughput history; the intake counters live here.
  setInterval(() => void readIntakeTotals(metrics).then((t) => thread.post({ t: 'intakeTotals', ...t })), 1000).unref();
  serve(ctx, async () => thread.post({ t: 'reload' }));
  logListening(ctx, intake, true);
}

interface DeliveryThreadPart extends Part {
  post(msg: ToDeliveryThread): void;
  admin(req: Parameters<Parameters<typeof adminFallback>[0]>[0]): Promise<AdminResponse | undefined>;
  liveFeed: IpcFeed;
}

/** Tells the thread (spawned by run.ts) to begin, and resolves once its delivery runs (or rejects with its start-up error). */
async function startDeliveryThread(
  ctx: ProcessContext,
  worker: Worker,
  durable: number,
  onSegmentsDeleted: () => void,
): Promise<DeliveryThreadPart> {
  const { config, logger, metrics } = ctx;
  const adminReplies = new PendingReplies<AdminResponse | null>();
  let stopping = false;
  let settleStart: { resolve: () => void; reject: (err: Error) => void } | undefined;
  let stopped: () => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => (settleStart = { resolve, reject }));
  const exited = new Promise<void>((r) => worker.once('exit', () => r()));
  const post = (msg: ToDeliveryThread) => {
    if (!stopping || msg.t === 'stop' || msg.t === 'metrics' || msg.t === 'intakeReady') worker.postMessage(msg);
  };
  const liveFeed = new IpcFeed(post);
  post({ t: 'begin', durable });

  worker.on('message', (msg: FromDeliveryThread) => {
    switch (msg.t) {
      case 'started':
        settleStart?.resolve();
        break;
      case 'failed':
        settleStart?.reject(threadError(msg));
        break;
      case 'adminResult':
        adminReplies.settle(msg.id, msg.res);
        break;
      case 'collectMetrics':
        void metrics.registry
          .getMetricsAsJSON()
          .then((data) =>
            worker.postMessage({ t: 'metrics', id: msg.id, data: data as never } satisfies ToDeliveryThread),
          );
        break;
      case 'segmentsDeleted':
        onSegmentsDeleted();
        break;
      case 'stopped':
        stopped();
        break;
      case 'liveReady':
      case 'liveEvents':
        liveFeed.onMessage(msg);
        break;
    }
  });
  worker.on('error', (err) => {
    if (settleStart) settleStart.reject(err);
    // Delivery died with the process still taking events: nothing would deliver them. Exit, so
    // the supervisor restarts Beacon; every acknowledged event is in the log and will be delivered.
    logger.fatal({ err }, 'the delivery thread failed; exiting so that Beacon is restarted');
    process.exit(1);
  });
  worker.on('exit', (code) => {
    if (stopping) return;
    settleStart?.reject(new Error(`the delivery thread exited with code ${code} while starting`));
    if (settleStart) return;
    logger.fatal({ code }, 'the delivery thread exited; exiting so that Beacon is restarted');
    process.exit(1);
  });

  // A thread that has closed its parts ends by itself; one that does not within 5 s is cut off.
  const ended = async () => {
    if (
      (await Promise.race([exited.then(() => 'exited'), new Promise((r) => setTimeout(r, 5000).unref())])) !== 'exited'
    )
      await worker.terminate();
    await exited;
  };
  try {
    await started;
  } catch (err) {
    stopping = true;
    await ended();
    throw err;
  } finally {
    settleStart = undefined;
  }
  return {
    name: 'delivery thread',
    stage: 'delivery',
    post,
    liveFeed,
    admin: async (req) => {
      const { id, reply } = adminReplies.create(35_000);
      post({ t: 'admin', id, req });
      return (await reply) ?? undefined;
    },
    async stop() {
      const done = new Promise<void>((r) => (stopped = r));
      post({ t: 'stop' });
      stopping = true;
      // The thread bounds its sinks' flush by dispatch.shutdownTimeout; past that and a margin, it is cut off.
      const deadline = new Promise<'late'>((r) =>
        setTimeout(() => r('late'), config.dispatch.shutdownTimeout + 5000).unref(),
      );
      if ((await Promise.race([done, deadline])) === 'late')
        logger.warn('the delivery thread did not stop in time; ending it');
      adminReplies.rejectAll('shutting down');
      await ended();
    },
  };
}

/** The thread's start-up error as the process would have raised it (coded errors keep their code, message and details). */
function threadError(msg: FromDeliveryThread & { t: 'failed' }): Error {
  if (msg.code?.startsWith('BEACON_E_'))
    return new BeaconError(msg.code as ErrorCode, msg.message, msg.details as Record<string, unknown> | undefined);
  const err = new Error(msg.message);
  if (msg.stack) err.stack = msg.stack;
  return err;
}
