import type { BeaconConfig } from '../config/schema.js';
import { createLogger } from '../ops/logger.js';
import { createMetrics } from '../ops/metrics.js';
import { join } from 'node:path';
import { PartitionWriter } from '../log/local/index.js';
import { adminFallback } from '../api/nodeAdapter.js';
import { createApiAuth } from '../api/auth.js';
import { liveAuthorizer } from '../api/liveAuth.js';
import { createLiveEndpoint, createLiveHub, IpcFeed } from '../live/index.js';
import type { AdminResponse } from '../api/adminRequest.js';
import { readIntakeTotals } from '../ops/ledgerTotals.js';
import { startIntakeSide } from './intakeSide.js';
import { localLogOptions } from './localLogOptions.js';
import { startQueueSources } from './queueSources.js';
import { PendingReplies, type PrimaryToWorker, type WorkerToPrimary } from './ipc.js';

/**
 * A collector process of the cluster: HTTP intake appending to its own log partition. It
 * tells the primary each new durable sequence (so cursors may read up to it) and forwards
 * admin requests to the primary, which owns the dispatcher state. Its `/live` viewers are fed
 * by the primary's log feed over IPC while it has any (src/live/ipcLink.ts).
 */
export async function runCollectorWorker(config: BeaconConfig, partition: string, workerCount: number): Promise<void> {
  const logger = createLogger(config.logging.level, { role: 'collector', partition });
  const metrics = createMetrics();
  const send = (msg: WorkerToPrimary) => {
    if (process.connected) process.send!(msg);
  };
  const base = localLogOptions(config, metrics);
  const writer = await PartitionWriter.open({ ...base, dir: join(base.dir, partition), maxBytes: Math.floor(config.log.maxBytes / workerCount) });
  writer.onDurable((seq) => send({ t: 'durable', partition, seq }));
  let startIntake: () => void;
  const started = new Promise<void>((r) => (startIntake = r));

  const adminReplies = new PendingReplies<AdminResponse | null>();
  let stopping = false;
  let intake: Awaited<ReturnType<typeof startIntakeSide>> | undefined;
  let queues: Awaited<ReturnType<typeof startQueueSources>> | undefined;
  const liveFeed = new IpcFeed(send);
  const live = createLiveEndpoint(createLiveHub(liveFeed, config.live, metrics), logger, liveAuthorizer(createApiAuth(config.api)));

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await live.close();
    await Promise.all([intake?.drain(config.dispatch.shutdownTimeout), queues?.stop()]);
    await writer.close();
    adminReplies.rejectAll('shutting down');
    process.exit(0);
  };

  process.on('message', (msg: PrimaryToWorker) => {
    if (msg.t === 'adminResult') adminReplies.settle(msg.id, msg.res);
    else if (msg.t === 'collectMetrics') void metrics.registry.getMetricsAsJSON().then((data) => send({ t: 'metrics', id: msg.id, data: data as never }));
    else if (msg.t === 'start') startIntake();
    else if (msg.t === 'shutdown') void stop();
    else if (msg.t === 'liveReady' || msg.t === 'liveEvents') liveFeed.onMessage(msg);
  });
  // The primary is gone (killed): nothing will read what we append, and a new primary will
  // start new collectors, so stop taking requests rather than run headless.
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  // A reload is the primary's (it runs the sinks); a SIGHUP sent to the whole process group must not end this collector, node's default.
  process.on('SIGHUP', () => undefined);
  process.on('SIGINT', () => void stop());

  // The primary opens its log reader only once every partition is recovered, so it never
  // sees a torn tail that is about to be cut; it then tells us to start.
  send({ t: 'recovered', partition, durable: writer.durableSeq });
  await started;
  if (stopping) return;
  intake = await startIntakeSide({
    config,
    append: (events) => writer.append(events),
    logger,
    metrics,
    fallback: adminFallback(async (req) => {
      const { id, reply } = adminReplies.create(35_000);
      send({ t: 'admin', id, req });
      return (await reply) ?? undefined;
    }),
    onUpgrade: live.onUpgrade,
    partition,
  });
  if (partition === 'p0') {
    queues = await startQueueSources({
      config,
      emit: async (events) => {
        await writer.append(events);
        metrics.eventsAppended.inc(events.length);
      },
      logger,
      metrics,
    });
  }
  send({ t: 'ready', partition });
  // The primary keeps the throughput history but the intake counters live here.
  setInterval(() => void readIntakeTotals(metrics).then((t) => send({ t: 'intakeTotals', partition, ...t })), 1000).unref();
}
