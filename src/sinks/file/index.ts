import { z } from 'zod';
import { byteSize, duration } from '../../config/units.js';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { FileSink } from './fileSink.js';

export const fileConfigSchema = sinkConfigSchema('file', {
  /** File the events are appended to; its directory is created when missing. */
  path: z.string().min(1),
  rotate: z
    .strictObject({
      /** Start a new file before one would grow past this size. */
      maxBytes: byteSize().optional(),
      /** Start a new file every interval (aligned to the epoch, so `1h` rotates on the hour). */
      interval: duration()
        .refine((ms) => ms >= 1000, 'rotate.interval must be at least 1s')
        .optional(),
    })
    .optional(),
});

export type FileSinkConfig = z.output<typeof fileConfigSchema>;

/** `file`: NDJSON (or `line`) appended to a file, fdatasync'd per batch, with rotation. */
export const fileSink: SinkDefinition<typeof fileConfigSchema> = {
  type: 'file',
  configSchema: fileConfigSchema,
  create: (config, context) => new FileSink(config, context),
};
