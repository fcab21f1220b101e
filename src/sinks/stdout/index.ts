import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { StdoutSink } from './stdoutSink.js';

export const stdoutConfigSchema = sinkConfigSchema('stdout', {});

/** `stdout`: one encoded event per line on standard output (for pipes and debugging). */
export const stdoutSink: SinkDefinition<typeof stdoutConfigSchema> = {
  type: 'stdout',
  configSchema: stdoutConfigSchema,
  create: (config) => new StdoutSink(config),
};
