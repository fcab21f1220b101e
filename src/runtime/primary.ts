import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { BeaconConfig } from '../config/schema.js';
import type { LoadOptions } from '../config/load.js';
import { LocalLogReader } from '../log/local/index.js';
import type { AdminResponse } from '../api/adminRequest.js';
import type { LiveFanout } from '../live/index.js';
import { ReportedIntakeTotals } from '../ops/ledgerTotals.js';
import { createProcessContext } from './parts/processContext.js';
import { startDelivery, type Delivery } from './parts/delivery.js';
import { startLiveFanout } from './parts/live.js';
import { logPart } from './parts/log.js';
import { part } from './parts/part.js';
import { serve } from './parts/signals.js';
import { intakeCountersFrom, ownIntakeSnapshot, type IntakeCounters } from '../alerts/index.js';
import { localLogOptions } from './localLogOptions.js';
import { readOnlyLog } from './readerLog.js';
import { PendingReplies, type PrimaryToWorker, type WorkerToPrimary } from './ipc.js';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * The cluster primary. It forks one collector per partition (p0..pN-1) and re-forks a
 * partition's collector when it dies, only after the old one exited, so a partition never
 * has two writers. It opens the log reader once every collector has recovered its
 * partition, then runs the dispatcher and answers admin requests that collectors forward.
 * It also runs the live stream's one log feed, streamed (bounded) to collectors with viewers.
 */
export async function runPrimary(
  rawConfig: Record<string, unknown>,
  config: BeaconConfig,
  workerCount: number,
  reloadFrom?: LoadOptions,
): Promise<void> {
  const ctx = createProcessContext(config, { role: 'primary' });
  const { logger, metrics, parts } = ctx;
  const workerEntry = fileURLToPath(
    new URL(`./collectorWorkerMain${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
  );
  cluster.setupPrimary({
    exec: workerEntry,
    execArgv:
      workerEntry.endsWith('.ts') && !process.execArgv.some((a) => a.includes('tsx'))
        ? [...process.execArgv, '--import', import.meta.resolve('tsx')]
        : process.execArgv,
  });

  const partitions = Array.from({ length: workerCount }, (_, i) => `p${i}`);
  const workers = new Map<string, Worker>();
  const recovered = new Set<string>();
  const listening = new Set<string>();
  /** Latest durable sequence per partition, kept even before the reader opens. */
  const durable = new Map<string, number>();
  const metricReplies = new PendingReplies<MetricsJson>();
  const intakeTotals = new ReportedIntakeTotals();
  let delivery: Delivery | undefined;
  let live: LiveFanout | undefined;
  let reader: LocalLogReader | undefined;
  let stopping = false;
  let allRecovered: () => void;
  const allRecoveredPromise = new Promise<void>((r) => (allRecovered = r));

  const send = (w: Worker, msg: PrimaryToWorker) => {
    if (w.isConnected()) w.send(msg);
  };

  function fork(partition: string): void {
    const worker = cluster.fork({
      BEACON_INTERNAL_PARTITION: partition,
      BEACON_INTERNAL_WORKERS: String(workerCount),
      BEACON_INTERNAL_CONFIG: JSON.stringify(rawConfig),
    });
    workers.set(partition, worker);
    worker.on('message', (msg: WorkerToPrimary) => void onMessage(worker, msg));
    worker.on('exit', (code, signal) => {
      workers.delete(partition);
      live?.forget(partition);
      recovered.delete(partition);
      listening.delete(partition);
      if (stopping) return;
      logger.error({ partition, code, signal }, 'collector process died; starting a new one for its partition in 1 s');
      setTimeout(() => !stopping && fork(partition), 1000);
    });
  }

  async function onMessage(worker: Worker, msg: WorkerToPrimary): Promise<void> {
    switch (msg.t) {
      case 'liveSubscribe':
      case 'liveUnsubscribe':
      case 'liveAck':
        live?.onMessage(partitionOf(worker), msg, (m) => send(worker, m));
        break;
      case 'recovered':
        recovered.add(msg.partition);
        durable.set(msg.partition, Math.max(durable.get(msg.partition) ?? 0, msg.durable));
        if (reader) {
          reader.setDurable(msg.partition, msg.durable);
          send(worker, { t: 'start' });
        } else if (recovered.size === partitions.length) {
          allRecovered();
        }
        break;
      case 'ready':
        listening.add(msg.partition);
        break;
      case 'durable':
        durable.set(msg.partition, Math.max(durable.get(msg.partition) ?? 0, msg.seq));
        reader?.setDurable(msg.partition, msg.seq);
        break;
      case 'intakeTotals':
        intakeTotals.report(msg.partition, { received: msg.received, rejected: msg.rejected });
        break;
      case 'metrics':
        metricReplies.settle(msg.id, msg.data);
        break;
      case 'admin': {
        let res: AdminResponse | null;
        try {
          res = delivery
            ? ((await delivery.admin(msg.req)) ?? null)
            : {
                status: 503,
                headers: { 'content-type': 'application/json' },
                body: '{"code":"BEACON_E_LOG_CLOSED","message":"Beacon is starting; retry in a moment"}',
              };
        } catch (err) {
          res = {
            status: 500,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ code: 'BEACON_E_INTERNAL', message: (err as Error).message }),
          };
        }
        send(worker, { t: 'adminResult', id: msg.id, res });
        break;
      }
    }
  }

  function partitionOf(worker: Worker): string {
    for (const [p, w] of workers) if (w === worker) return p;
    return `worker-${worker.id}`;
  }

  /** One collector's registry as JSON; rejects when it does not answer within 5 s. */
  function collectorMetrics(w: Worker): Promise<MetricsJson> {
    const { id, reply } = metricReplies.create(5000);
    send(w, { t: 'collectMetrics', id });
    return reply;
  }

  async function clusterMetrics(): Promise<{ contentType: string; body: string }> {
    const own = (await metrics.registry.getMetricsAsJSON()) as MetricsJson;
    const fromWorkers = await Promise.all(
      [...workers.values()].map((w) => collectorMetrics(w).catch(() => [] as MetricsJson)),
    );
    const merged = AggregatorRegistry.aggregate([own, ...fromWorkers]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }

  /**
   * The alert rules' intake counters over every collector. A collector that does not answer
   * fails the round (rather than counting as zero, which would read as a burst when it answers again).
   */
  async function clusterIntakeCounters(): Promise<IntakeCounters> {
    return intakeCountersFrom(
      await Promise.all([ownIntakeSnapshot(metrics), ...[...workers.values()].map(collectorMetrics)]),
    );
  }

  for (const p of partitions) fork(p);
  // The collectors are intake: they stop first, each draining its requests and syncing its partition.
  parts.add(
    part('collectors', 'intake', async () => {
      stopping = true;
      const exited = [...workers.values()].map(
        (w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))),
      );
      for (const w of workers.values()) send(w, { t: 'shutdown' });
      await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, config.dispatch.shutdownTimeout))]);
      metricReplies.rejectAll('shutting down');
    }),
  );
  await allRecoveredPromise;
  reader = await LocalLogReader.open({
    ...localLogOptions(config, metrics),
    partitionMaxBytes: Math.floor(config.log.maxBytes / workerCount),
  });
  parts.add(logPart(reader));
  for (const [p, seq] of durable) reader.setDurable(p, seq);
  delivery = await startDelivery(ctx, {
    log: readOnlyLog(reader),
    metricsText: clusterMetrics,
    intakeReady: () => listening.size === partitions.length,
    intakeTotals: () => intakeTotals.sum(),
    // Sinks run here, so a reload is applied here; collectors forward POST /api/v1/reload like every admin call.
    reloadFrom,
    alertIntake: clusterIntakeCounters,
  });
  live = parts.add(startLiveFanout(ctx, readOnlyLog(reader))).fanout;
  for (const w of workers.values()) send(w, { t: 'start' });
  logger.info(
    { port: config.server.port, dataDir: config.dataDir, sinks: config.sinks.map((s) => s.name), workers: workerCount },
    `beacon listening on ${config.server.tls ? 'https' : 'http'}://${config.server.host}:${config.server.port} with ${workerCount} collector processes`,
  );

  const reloader = delivery.reloader;
  serve(ctx, reloader && (() => reloader.reload('signal')));
}
