import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { BeaconError } from '../../errors/beaconError.js';
import type { JetStreamLogConfig } from './jetstreamConfig.js';

/**
 * Connects to the first reachable server of `log.servers`, trying again until
 * `log.connectTimeout`, then stops start-up with one clear message. Once connected the client
 * reconnects by itself, forever, to any server of the cluster (it also learns the others from
 * the one it reached), so a dead node costs a reconnect, not a restart.
 */
export async function connectToLog(config: JetStreamLogConfig, logger: Logger, name: string): Promise<NatsConnection> {
  const deadline = Date.now() + config.connectTimeout;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await connect({
        servers: config.servers,
        name,
        user: config.user,
        pass: config.pass,
        token: config.token,
        timeout: Math.max(500, Math.min(5000, deadline - Date.now())),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        reconnectJitter: 250,
        // A server that hangs (rather than dies) is noticed within about 20 s.
        pingInterval: 10_000,
        maxPingOut: 2,
      });
      void watchStatus(nc, logger);
      return nc;
    } catch (err) {
      lastError = err;
      if (Date.now() >= deadline) break;
      if (attempt === 1)
        logger.warn(
          { servers: config.servers, err: (err as Error).message },
          'NATS for the log is not reachable yet; retrying',
        );
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now()))));
    }
  }
  throw new BeaconError(
    'BEACON_E_LOG_UNAVAILABLE',
    `could not connect to NATS for the log at ${config.servers.join(', ')} within ${config.connectTimeout} ms (${(lastError as Error)?.message ?? 'no answer'}): start the NATS servers or fix log.servers`,
    { servers: config.servers },
    { cause: lastError },
  );
}

/** Logs disconnects and reconnects, so a node's death shows up in Beacon's log beside its effects. */
async function watchStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect')
      logger.warn({ server: s.server }, 'lost the connection to a NATS server of the log; reconnecting');
    else if (s.type === 'reconnect') logger.info({ server: s.server }, 'reconnected to NATS for the log');
  }
}
