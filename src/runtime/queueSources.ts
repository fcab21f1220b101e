import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BeaconConfig } from '../config/schema.js';
import type { Metrics } from '../ops/metrics.js';
import { appendDurably } from '../ops/durableAppend.js';
import { appendEnriched, processEnrichChain } from '../enrich/chain.js';
import { findSourceDefinition } from '../sources/registry.js';
import type { Emit, Source } from '../sources/source.js';

/**
 * Starts the configured queue sources (RabbitMQ, NATS, ...). In the multi-process mode only
 * the collector of partition p0 runs them, so each queue has one consumer per instance and a
 * subscription (MQTT, NATS core) is not received twice. Their events pass the same
 * enrichment chain as the HTTP collector's before `emit` appends them.
 */
export async function startQueueSources(options: {
  config: BeaconConfig;
  emit: Emit;
  logger: Logger;
  metrics: Metrics;
}): Promise<{ stop(): Promise<void> }> {
  const { config, logger, metrics } = options;
  const started: Source[] = [];
  const enrich = processEnrichChain(config, metrics, logger);
  const emit: Emit = async (events) => {
    await appendEnriched(enrich, events, options.emit);
  };
  for (const sourceConfig of config.sources) {
    const definition = findSourceDefinition(sourceConfig.type);
    if (!definition)
      throw new Error(`no source type "${sourceConfig.type}" (the config schema should have refused it)`);
    const name = sourceConfig.name;
    const deadLetterPath = join(config.dataDir, 'dlq', `source-${name}.ndjson`);
    const source = definition.create(sourceConfig, {
      name,
      dataDir: config.dataDir,
      logger: logger.child({ source: name }),
      metrics,
      limits: config.server.limits,
      marks: enrich.marks,
      deadLetter: async (payload, code, reason) => {
        metrics.eventsRejected.inc({ source: name, code });
        const text = typeof payload === 'string' ? payload : payload.toString('utf8');
        await appendDurably(
          deadLetterPath,
          JSON.stringify({ ts: Date.now(), source: name, code, reason, payload: text }) + '\n',
        );
      },
    });
    await source.start(emit);
    started.push(source);
    logger.info({ source: name, type: sourceConfig.type }, 'queue source started');
  }
  return {
    async stop() {
      await Promise.all(started.map((s) => s.stop()));
    },
  };
}
