import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeJsonText } from '../../event/codecs/json.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { LogPosition } from '../../log/eventLog.js';
import type { SchemaSet } from '../../schemas/schemaSet.js';
import { SinkError, type BatchOrigins, type Sink, type SinkContext } from '../sink.js';
import type { S3SinkConfig } from './index.js';
import { createEncoder, type LakeCompression, type LakeEncoder, type LakeFormat } from './lakeEncoders.js';
import { LakeWriter, type ObjectTarget, type RollLimits } from './lakeWriter.js';
import { compilePrefix } from './objectKey.js';
import { PlanJournal } from './planJournal.js';
import { S3Target } from './s3Target.js';
import { columnsOfSchema, type ColumnsOf, type TypedColumn } from './typedColumns.js';

/** What a lake sink needs of its config, whatever its destination. */
export interface LakeConfig {
  prefix: string;
  format: LakeFormat;
  compression?: LakeCompression | undefined;
  roll: RollLimits;
}

/** A destination for finished objects that a lake sink opens (again after a lost connection) and closes. */
export interface OpenedTarget extends ObjectTarget {
  close(): void;
}

/**
 * Partitioned Parquet or NDJSON objects (docs/lake.md), to a bucket (`s3`) or a directory
 * (`file` with `format: parquet`).
 *
 * With a log that gives each event's position (the local log), objects are exactly-once:
 * `LakeWriter` cuts them by position, the plan journal makes the cuts reproducible after a
 * crash, and the cursor is committed only past objects the server acknowledged. Without
 * positions (a JetStream log, a dead-letter replay) each batch becomes its own objects, named
 * by a hash of its event ids: at-least-once, as every other sink.
 */
export class LakeSink implements Sink {
  private readonly encoder: LakeEncoder;
  private readonly stateDir: string;
  private journal: PlanJournal | undefined;
  private writer: LakeWriter | undefined;
  private target: OpenedTarget | undefined;

  constructor(
    private readonly config: LakeConfig,
    private readonly context: SinkContext,
    /** Opens the destination; the journal is there to abort uploads an earlier run left open. */
    private readonly openTarget: (journal: PlanJournal) => Promise<OpenedTarget>,
    private readonly concurrency = 4,
  ) {
    this.encoder = createEncoder(config.format, config.compression, columnsFrom(context.schemas));
    this.stateDir = join(context.dataDir, 'lake', encodeURIComponent(context.name));
  }

  async open(): Promise<void> {
    if (!this.journal) {
      const journal = await PlanJournal.open(join(this.stateDir, 'plans.jsonl'));
      const writer = new LakeWriter({
        prefix: this.config.prefix,
        roll: this.config.roll,
        stageDir: join(this.stateDir, 'stage'),
        journal,
        encoder: this.encoder,
        target: { put: (key, path, type) => this.s3().put(key, path, type) },
        clock: this.context.clock,
        concurrency: this.concurrency,
        // Staging the next segment overlaps encoding and uploading the last (docs/performance.md).
        uploadAhead: 2,
      });
      await writer.reset();
      this.journal = journal;
      this.writer = writer;
    }
    this.target = await this.openTarget(this.journal);
  }

  async deliverAt(batch: readonly TrackedEvent[], at: BatchOrigins): Promise<LogPosition> {
    return this.gatherer().take(batch, at.origins, at.end);
  }

  async flushHeld(all: boolean): Promise<LogPosition | undefined> {
    if (!this.writer || !this.target) return undefined;
    return this.writer.flush(all);
  }

  /** Without positions: this batch's events become one object per prefix, named by a hash of their ids. */
  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    const target = this.s3();
    const prefixOf = compilePrefix(this.config.prefix);
    const groups = new Map<string, TrackedEvent[]>();
    for (const event of batch) {
      const prefix = prefixOf(event);
      const group = groups.get(prefix) ?? [];
      group.push(event);
      groups.set(prefix, group);
    }
    const dir = join(this.stateDir, 'batches');
    await mkdir(dir, { recursive: true });
    for (const [prefix, events] of groups) {
      const hash = createHash('sha256');
      for (const e of events) hash.update(e.id).update('\n');
      const name = `batch-${hash.digest('hex').slice(0, 24)}`;
      const stage = join(dir, `${name}.ndjson`);
      await writeFile(stage, events.map((e) => `${encodeJsonText(e)}\n`).join(''));
      try {
        const file = await this.encoder.encode(
          stage,
          events.map((e) => e.type),
        );
        await target.put(`${prefix}${name}${this.encoder.extension}`, file, this.encoder.contentType);
      } finally {
        await rm(dir, { recursive: true, force: true }).then(() => mkdir(dir, { recursive: true }));
      }
    }
  }

  /** Releases the connection. Gathered events stay held (the loop reopens after a connection loss); flushHeld(true) writes them out at stop. */
  async close(): Promise<void> {
    this.target?.close();
    this.target = undefined;
    await this.encoder.close();
  }

  private gatherer(): LakeWriter {
    if (!this.writer || !this.target)
      throw new SinkError('reconnect', `sink "${this.context.name}" is not open`, { errorType: 'not_open' });
    return this.writer;
  }

  private s3(): OpenedTarget {
    if (!this.target)
      throw new SinkError('reconnect', `sink "${this.context.name}" is not open`, { errorType: 'not_open' });
    return this.target;
  }
}

/** `s3`: a lake sink whose objects go to a bucket through the AWS SDK. */
export class S3Sink extends LakeSink {
  constructor(config: S3SinkConfig, context: SinkContext) {
    let bucketSeen = false;
    super(config, context, async (journal) => {
      const target = new S3Target({
        bucketSeen,
        endpoint: config.endpoint,
        region: config.region,
        bucket: config.bucket,
        forcePathStyle: config.forcePathStyle,
        credentials: credentialsOf(config),
        journal,
      });
      await target.open();
      bucketSeen = true;
      return target;
    });
  }
}

/** Each event type's typed columns from its JSON Schema, worked out once per type. */
function columnsFrom(schemas: SchemaSet | undefined): ColumnsOf | undefined {
  if (!schemas) return undefined;
  const known = new Map<string, readonly TypedColumn[]>();
  return (type) => {
    let columns = known.get(type);
    if (!columns) {
      columns = columnsOfSchema(schemas.schemaOf(type));
      known.set(type, columns);
    }
    return columns;
  };
}

function credentialsOf(c: S3SinkConfig): { accessKeyId: string; secretAccessKey: string } | undefined {
  if (c.accessKeyId !== undefined && c.secretAccessKey !== undefined)
    return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
  if (c.accessKeyIdEnv !== undefined && c.secretAccessKeyEnv !== undefined) {
    const accessKeyId = process.env[c.accessKeyIdEnv];
    const secretAccessKey = process.env[c.secretAccessKeyEnv];
    for (const [name, value] of [
      [c.accessKeyIdEnv, accessKeyId],
      [c.secretAccessKeyEnv, secretAccessKey],
    ] as const) {
      if (!value)
        throw new SinkError(
          'fatal',
          `environment variable ${name} (named by the s3 sink's ${name === c.accessKeyIdEnv ? 'accessKeyIdEnv' : 'secretAccessKeyEnv'}) is not set: set it before starting Beacon`,
          { errorType: 'missing_credentials' },
        );
    }
    return { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! };
  }
  return undefined;
}
