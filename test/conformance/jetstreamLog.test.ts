import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { jetstreamLogSchema } from '../../src/log/jetstream/index.js';
import { openJetStreamLog } from '../../src/log/jetstream/index.js';
import { silentLogger } from '../../src/ops/logger.js';
import { runEventLogConformance } from './eventLog.js';

/**
 * The JetStream log against the EventLog contract, on the machine's nats-server (127.0.0.1:4222,
 * JetStream on). Every check has a stream and subject of its own, deleted at the end. Two
 * `open`s of the same stream are two processes (two connections) sharing its consumers.
 */
const NATS = 'nats://127.0.0.1:4222';
const run = randomBytes(4).toString('hex');
const admin = await connect({ servers: NATS });
const jsm = await jetstreamManager(admin);
const streams: string[] = [];
let current = '';

after(async () => {
  for (const name of streams) await jsm.streams.delete(name).catch(() => undefined);
  await admin.close();
});

runEventLogConformance('jetstream', {
  sharedCursors: true,
  async fresh() {
    current = `beacon-conf-${run}-${streams.length}`;
    streams.push(current);
  },
  open: ({ cursors, maxBytes }) =>
    openJetStreamLog({
      config: jetstreamLogSchema.parse({
        type: 'jetstream',
        servers: [NATS],
        stream: current,
        subject: `beacon-conf.${run}.${current}`,
        ackWait: '3s',
        connectTimeout: '5s',
        retryAfterSeconds: 3,
        // Small: JetStream reserves a stream's whole maxBytes on the server when it is created.
        maxBytes: maxBytes ?? 16 * 1024 * 1024,
      }),
      logger: silentLogger,
      cursorNames: cursors,
      usageRefreshMs: 200,
    }),
  async cleanup() {},
});
