import type { BeaconConfig } from '../config/schema.js';
import { join } from 'node:path';
import { PartitionWriter } from '../log/local/index.js';
import { adminFallback } from '../api/nodeAdapter.js';
import { IpcFeed } from '../live/index.js';
import type { AdminResponse } from '../api/adminRequest.js';
import { readIntakeTotals } from '../ops/ledgerTotals.js';
import { createProcessContext } from './parts/processContext.js';
import { startIntake } from './parts/intake.js';
import { startLiveEndpoint } from './parts/live.js';
import { logPart } from './parts/log.js';
import { localLogOptions } from './localLogOptions.js';
import { PendingReplies, type PrimaryToWorker, type WorkerToPrimary } from './ipc.js';

/**
 * A collector process of the cluster: HTTP intake appending to its own log partition. It
 * tells the primary each new durable sequence (so cursors may read up to it) and forwards
 * admin requests to the primary, which owns the dispatcher state. Its `/live` viewers are fed
 * by the primary's log feed over IPC while it has any (src/live/ipcLink.ts).
 * Parts: log writer (its partition), live (linked), intake; the primary (or a signal) stops it.
 */
export async function runCollectorWorker(config: BeaconConfig, partition: string, workerCount: number): Promise<void> {
  const ctx = createProcessContext(config, { role: 'collector', partition });
  const { metrics, parts } = ctx;
  const send = (msg: WorkerToPrimary) => {
    if (process.connected) process.send!(msg);
  };
  const base = localLogOptions(config, metrics);
  const writer = await PartitionWriter.open({
    ...base,
    dir: join(base.dir, partition),
    maxBytes: Math.floor(config.log.maxBytes / workerCount),
  });
  writer.onDurable((seq) => send({ t: 'durable', partition, seq }));
  parts.add(logPart(writer, 'logWriter'));
  let startIntakeNow: () => void;
  const started = new Promise<void>((r) => (startIntakeNow = r));

  const adminReplies = new PendingReplies<AdminResponse | null>();
  const liveFeed = new IpcFeed(send);
  const live = parts.add(startLiveEndpoint(ctx, liveFeed));

  const stop = async () => {
    if (parts.isStopping) return;
    await parts.stop();
    adminReplies.rejectAll('shutting down');
    process.exit(0);
  };

  process.on('message', (msg: PrimaryToWorker) => {
    if (msg.t === 'adminResult') adminReplies.settle(msg.id, msg.res);
    else if (msg.t === 'collectMetrics')
      void metrics.registry.getMetricsAsJSON().then((data) => send({ t: 'metrics', id: msg.id, data: data as never }));
    else if (msg.t === 'start') startIntakeNow();
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
  if (parts.isStopping) return;
  parts.add(
    await startIntake(ctx, {
      append: (events) => writer.append(events),
      fallback: adminFallback(async (req) => {
        const { id, reply } = adminReplies.create(35_000);
        send({ t: 'admin', id, req });
        return (await reply) ?? undefined;
      }),
      onUpgrade: live.onUpgrade,
      partition,
      queues: partition === 'p0',
      recoveredIds: () => writer.takeRecoveredIds(),
    }),
  );
  parts.markReady();
  send({ t: 'ready', partition });
  // The primary keeps the throughput history but the intake counters live here.
  setInterval(
    () => void readIntakeTotals(metrics).then((t) => send({ t: 'intakeTotals', partition, ...t })),
    1000,
  ).unref();
}
