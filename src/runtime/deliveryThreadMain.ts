import { parentPort, workerData } from 'node:worker_threads';
import { AggregatorRegistry } from 'prom-client';
import { validateConfig } from '../config/load.js';
import { LocalLogReader } from '../log/local/index.js';
import { ReportedIntakeTotals } from '../ops/ledgerTotals.js';
import { intakeCountersFrom, ownIntakeSnapshot, type MetricJson } from '../alerts/index.js';
import { createProcessContext, type ProcessContext } from './parts/processContext.js';
import { startDelivery } from './parts/delivery.js';
import { startLiveFanout } from './parts/live.js';
import { logPart } from './parts/log.js';
import { localLogOptions } from './localLogOptions.js';
import { readOnlyLog } from './readerLog.js';
import { PendingReplies } from './ipc.js';
import type { DeliveryThreadData, FromDeliveryThread, ToDeliveryThread } from './threadLink.js';

/**
 * The delivery thread of the single process (deliveryThread.ts starts it): the log reader over
 * every partition, the store, alerts, the dispatcher with its admin and query API, and the live
 * stream's log feed. Parts: log (reader), store, alerts, delivery, live fan-out. The intake
 * thread owns the signals and tells it when to stop, once intake has stopped and the writer is
 * closed; the process exits when both are done.
 */
const port = parentPort!;
const data = workerData as DeliveryThreadData;
const post = (msg: FromDeliveryThread) => port.postMessage(msg);
// One listener from the start, so no message is lost while the thread loads and opens the log.
let handle: ((msg: ToDeliveryThread) => void) | undefined;
const queued: ToDeliveryThread[] = [];
let begin: (durable: number) => void;
const begun = new Promise<number>((r) => (begin = r));
port.on('message', (msg: ToDeliveryThread) => {
  if (msg.t === 'begin') begin(msg.durable);
  else if (handle) handle(msg);
  else queued.push(msg);
});

/** The thread's parts, once it has any: closed before it reports a failed start (the store's DuckDB must not be torn down open). */
let started: ProcessContext | undefined;

async function run(): Promise<void> {
  // The intake thread recovers p0 (cuts a torn tail) first: the reader must not see bytes about
  // to be cut. Nothing is reported before this, so the intake thread is listening for it.
  const durable = await begun;
  const config = validateConfig(data.raw, '(from the intake thread)');
  // The process-wide series (CPU, RSS) are the intake thread's registry's; /metrics sums both.
  const ctx = createProcessContext(config, { role: 'all', thread: 'delivery' }, { processMetrics: false });
  started = ctx;
  const { metrics, parts, logger } = ctx;
  const metricReplies = new PendingReplies<MetricJson[]>();
  const intakeTotals = new ReportedIntakeTotals();
  let intakeReady = false;

  /** The intake thread's registry as JSON; rejects when it does not answer within 5 s. */
  const intakeMetrics = (): Promise<MetricJson[]> => {
    const { id, reply } = metricReplies.create(5000);
    post({ t: 'collectMetrics', id });
    return reply;
  };

  const reader = await LocalLogReader.open({
    ...localLogOptions(config, metrics),
    partitionMaxBytes: config.log.type === 'local' ? config.log.maxBytes : undefined,
  });
  parts.add(logPart(reader));
  reader.setDurable('p0', durable);
  reader.onSegmentsDeleted((partition) => {
    if (partition === 'p0') post({ t: 'segmentsDeleted' });
  });
  const log = readOnlyLog(reader, 'the delivery thread does not append; the intake thread owns the log writer');
  // The live feed's messages may arrive before it exists: they wait for it.
  const early: ToDeliveryThread[] = [];
  let onLive: ((msg: ToDeliveryThread) => void) | undefined;
  let delivery: Awaited<ReturnType<typeof startDelivery>> | undefined;

  handle = (msg: ToDeliveryThread) => {
    switch (msg.t) {
      case 'durable':
        reader.setDurable('p0', msg.seq);
        break;
      case 'intakeReady':
        intakeReady = msg.ready;
        break;
      case 'logFull':
        reader.enforceRetention().catch(() => undefined);
        break;
      case 'metrics':
        metricReplies.settle(msg.id, msg.data);
        break;
      case 'intakeTotals':
        intakeTotals.report('p0', { received: msg.received, rejected: msg.rejected });
        break;
      case 'admin':
        void answerAdmin(msg.id, msg.req);
        break;
      case 'reload':
        delivery?.reloader?.reload('signal').catch(() => undefined);
        break;
      case 'stop':
        metricReplies.rejectAll('shutting down');
        void parts
          .stop()
          .catch((err: unknown) => logger.error({ err }, 'error while stopping delivery'))
          .then(() => {
            post({ t: 'stopped' });
            // Nothing more to hear: the thread ends by itself once its parts are closed.
            port.close();
          });
        break;
      case 'begin':
        break;
      default:
        if (onLive) onLive(msg);
        else early.push(msg);
    }
  };
  for (const msg of queued.splice(0)) handle(msg);

  async function answerAdmin(id: number, req: Parameters<NonNullable<typeof delivery>['admin']>[0]): Promise<void> {
    let res: FromDeliveryThread & { t: 'adminResult' };
    try {
      const answer = delivery
        ? ((await delivery.admin(req)) ?? null)
        : {
            status: 503,
            headers: { 'content-type': 'application/json' },
            body: '{"code":"BEACON_E_LOG_CLOSED","message":"Beacon is starting; retry in a moment"}',
          };
      res = { t: 'adminResult', id, res: answer };
    } catch (err) {
      res = {
        t: 'adminResult',
        id,
        res: {
          status: 500,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ code: 'BEACON_E_INTERNAL', message: (err as Error).message }),
        },
      };
    }
    post(res);
  }

  delivery = await startDelivery(ctx, {
    log,
    metricsText: async () => {
      const own = (await metrics.registry.getMetricsAsJSON()) as MetricJson[];
      const intake = await intakeMetrics().catch(() => [] as MetricJson[]);
      const merged = AggregatorRegistry.aggregate([own, intake]);
      return { contentType: merged.contentType, body: await merged.metrics() };
    },
    intakeReady: () => intakeReady,
    intakeTotals: () => intakeTotals.sum(),
    // The thread runs the sinks, so a reload is applied here; the intake thread forwards SIGHUP and POST /api/v1/reload.
    reloadFrom: data.reloadFrom ? { ...data.reloadFrom, onWarning: (m) => logger.warn(m) } : undefined,
    alertIntake: async () => intakeCountersFrom([await ownIntakeSnapshot(metrics), await intakeMetrics()]),
  });
  const fanout = parts.add(startLiveFanout(ctx, log)).fanout;
  onLive = (msg) => {
    if (msg.t === 'liveSubscribe' || msg.t === 'liveUnsubscribe' || msg.t === 'liveAck')
      fanout.onMessage('intake', msg, post);
  };
  for (const msg of early.splice(0)) onLive(msg);
  parts.markReady();
  post({ t: 'started' });
}

run().catch(async (err: unknown) => {
  const e = err as { code?: unknown; message?: unknown; details?: unknown; stack?: unknown };
  await started?.parts.stop().catch(() => undefined);
  post({
    t: 'failed',
    code: typeof e.code === 'string' ? e.code : undefined,
    message: typeof e.message === 'string' ? e.message : String(err),
    details: e.details,
    stack: typeof e.stack === 'string' ? e.stack : undefined,
  });
  port.close();
});
