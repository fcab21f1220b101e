import { z } from 'zod';
import { byteSize, duration } from '../../config/units.js';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { FileSink } from './fileSink.js';
import { checkCompression, rollSchema } from '../s3/index.js';
import { checkPrefixTemplate } from '../s3/objectKey.js';
import { LakeSink } from '../s3/s3Sink.js';
import { DirectoryTarget } from './directoryTarget.js';

export const fileConfigSchema = sinkConfigSchema('file', {
  /** File the events are appended to (a directory for `format: parquet`); created when missing. */
  path: z.string().min(1),
  /** `ndjson`: one file of lines (`codec`). `parquet`: a local lake under `path`, laid out as the s3 sink's (docs/lake.md). */
  format: z.enum(['ndjson', 'parquet']).optional(),
  /** format parquet: the key prefix under `path`, as the s3 sink's `prefix`. */
  prefix: z
    .string()
    .superRefine((value, ctx) => {
      const problem = checkPrefixTemplate(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** format parquet: zstd | snappy | gzip | none (default zstd). */
  compression: z.enum(['zstd', 'snappy', 'gzip', 'none']).optional(),
  /** format parquet: when an object closes, as the s3 sink's `roll`. */
  roll: rollSchema.optional(),
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
}).superRefine((config, ctx) => {
  if (config.format !== 'parquet') {
    for (const key of ['prefix', 'compression', 'roll'] as const) {
      if (config[key] !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${key} is for format parquet (a local lake); this file sink writes NDJSON lines`,
        });
    }
  } else {
    checkCompression({ format: 'parquet', compression: config.compression }, ctx);
    if (config.rotate !== undefined)
      ctx.addIssue({ code: 'custom', path: ['rotate'], message: 'format parquet rolls objects with roll, not rotate' });
  }
});

export type FileSinkConfig = z.output<typeof fileConfigSchema>;

/** `file`: NDJSON (or `line`) appended to a file, fdatasync'd per batch, with rotation; or, with `format: parquet`, a local lake directory. */
export const fileSink: SinkDefinition<typeof fileConfigSchema> = {
  type: 'file',
  configSchema: fileConfigSchema,
  create: (config, context) =>
    config.format === 'parquet'
      ? new LakeSink(
          {
            prefix: config.prefix ?? 'events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/',
            format: 'parquet',
            compression: config.compression,
            roll: config.roll ?? rollSchema.parse({}),
          },
          context,
          async () => new DirectoryTarget(config.path),
        )
      : new FileSink(config, context),
};
