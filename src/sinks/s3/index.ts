import { z } from 'zod';
import { byteSize, duration } from '../../config/units.js';
import type { SinkDefinition } from '../sink.js';
import { sinkConfigSchema } from '../sinkConfig.js';
import { checkPrefixTemplate } from './objectKey.js';
import { S3Sink } from './s3Sink.js';

/** When a gathered object is closed and uploaded: whichever limit is reached first. */
export const rollSchema = z.strictObject({
  /** Close an object before its encoded events would pass this size. */
  maxBytes: byteSize()
    .refine((n) => n >= 1024, 'roll.maxBytes must be at least 1KiB')
    .default(128 * 1024 * 1024),
  /** Close an object once it holds this many events. */
  maxEvents: z.number().int().min(1).max(100_000_000).default(1_000_000),
  /** Close an object this long after its first event arrived (so a quiet stream still lands). */
  maxAge: duration()
    .refine((ms) => ms >= 10, 'roll.maxAge must be at least 10ms')
    .default(5 * 60_000),
});

/** The lake's layout and encoding, shared by the `s3` sink and the `file` sink's `format: parquet`. */
export const lakeFields = {
  /** Key prefix with Hive-style partitions from event fields (UTC): {type}, {yyyy}, {MM}, {dd}, {HH}, {mm}. */
  prefix: z
    .string()
    .default('events/type={type}/dt={yyyy}-{MM}-{dd}/hr={HH}/')
    .superRefine((value, ctx) => {
      const problem = checkPrefixTemplate(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  /** Object encoding: Parquet (columns in docs/lake.md) or NDJSON (the json codec's lines). */
  format: z.enum(['parquet', 'ndjson']).default('parquet'),
  /** parquet: zstd | snappy | gzip | none; ndjson: gzip | none. Default zstd for parquet, gzip for ndjson. */
  compression: z.enum(['zstd', 'snappy', 'gzip', 'none']).optional(),
  roll: rollSchema.prefault({}),
};

export const s3ConfigSchema = sinkConfigSchema('s3', {
  /** S3-compatible endpoint URL (MinIO, Ceph RGW, Swift s3api, R2 ...); omit for AWS. */
  endpoint: z.url().optional(),
  region: z.string().min(1).default('us-east-1'),
  bucket: z.string().min(1),
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. */
  forcePathStyle: z.boolean().default(false),
  /** Credentials, redacted by check-config and the admin API. Without them the AWS SDK's default chain is used. */
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  /** Names of environment variables holding the credentials instead. */
  accessKeyIdEnv: z.string().min(1).optional(),
  secretAccessKeyEnv: z.string().min(1).optional(),
  ...lakeFields,
}).superRefine((config, ctx) => {
  checkCompression(config, ctx);
  const inline = config.accessKeyId !== undefined || config.secretAccessKey !== undefined;
  const env = config.accessKeyIdEnv !== undefined || config.secretAccessKeyEnv !== undefined;
  if (inline && env)
    ctx.addIssue({
      code: 'custom',
      path: ['accessKeyId'],
      message:
        'set the credentials either inline (accessKeyId, secretAccessKey) or by environment (accessKeyIdEnv, secretAccessKeyEnv), not both',
    });
  if (inline && (config.accessKeyId === undefined || config.secretAccessKey === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [config.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey'],
      message: 'accessKeyId and secretAccessKey go together',
    });
  }
  if (env && (config.accessKeyIdEnv === undefined || config.secretAccessKeyEnv === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [config.accessKeyIdEnv === undefined ? 'accessKeyIdEnv' : 'secretAccessKeyEnv'],
      message: 'accessKeyIdEnv and secretAccessKeyEnv go together',
    });
  }
});

/** NDJSON objects are gzip or plain; Parquet compresses its pages itself. */
export function checkCompression(
  config: { format: 'parquet' | 'ndjson'; compression?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (
    config.format === 'ndjson' &&
    config.compression !== undefined &&
    config.compression !== 'gzip' &&
    config.compression !== 'none'
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['compression'],
      message: `format ndjson takes compression gzip or none, not ${config.compression}`,
    });
  }
}

export type S3SinkConfig = z.output<typeof s3ConfigSchema>;

/** `s3`: partitioned Parquet or NDJSON objects in a bucket, exactly once per log position range. */
export const s3Sink: SinkDefinition<typeof s3ConfigSchema> = {
  type: 's3',
  configSchema: s3ConfigSchema,
  secretKeys: ['accessKeyId', 'secretAccessKey'],
  create: (config, context) => new S3Sink(config, context),
};
