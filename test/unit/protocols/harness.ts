import { configSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { processStrictCheck } from '../../../src/schemas/processSchemas.js';
import { createHttpServer, type BeaconHttpServer } from '../../../src/sources/http/index.js';
import { createRecordingEmit, type RecordingEmit } from '../../support/recordingEmit.js';
import { metricValue, send, type Answer, type SendOptions } from '../http/harness.js';

/** A real collector on a free port with the compatible protocols configured as a user writes them. */
export interface ProtocolCollector {
  port: number;
  recorder: RecordingEmit;
  metrics: Metrics;
  http: BeaconHttpServer;
  send(options: SendOptions): Promise<Answer>;
  post(path: string, body: string | Buffer | object, headers?: Record<string, string>): Promise<Answer>;
  received(source: string): Promise<number>;
  rejected(source: string, code: string): Promise<number>;
  close(): Promise<void>;
}

export async function startProtocols(raw: Record<string, unknown>): Promise<ProtocolCollector> {
  const config = configSchema.parse(raw);
  const recorder = createRecordingEmit();
  const metrics = createMetrics();
  const schemaCheck = processStrictCheck(config, metrics);
  const http = createHttpServer({
    config: config.server,
    emit: recorder.emit,
    metrics,
    logger: silentLogger,
    protocols: config,
    ...(schemaCheck ? { schemaCheck } : {}),
  });
  const { port } = await http.listen(0, '127.0.0.1');
  return {
    port,
    recorder,
    metrics,
    http,
    send: (options) => send(port, options),
    post: (path, body, headers = {}) =>
      send(port, {
        method: 'POST',
        path,
        body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', ...headers },
      }),
    received: (source) => metricValue(metrics.eventsReceived, { source }),
    rejected: (source, code) => metricValue(metrics.eventsRejected, { source, code }),
    close: async () => {
      recorder.release();
      await http.drain(1000);
    },
  };
}
