import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { lazyRequire } from '../../net/lazyRequire.js';
import type { ObjectTarget } from './lakeWriter.js';
import type { PlanJournal } from './planJournal.js';
import type { SinkError } from '../sink.js';
import { classifyS3Error, type S3Where } from './s3Errors.js';

const sdk = lazyRequire<typeof S3Sdk>('@aws-sdk/client-s3');

export interface S3TargetOptions {
  endpoint: string | undefined;
  region: string;
  bucket: string;
  forcePathStyle: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  journal: PlanJournal;
  /** Objects larger than this go up in parts (S3's parts are at least 5 MiB). */
  multipartThreshold?: number;
  partBytes?: number;
  requestTimeoutMs?: number;
  /** The bucket answered at an earlier open of the same sink: a NoSuchBucket now is a restarting server, retried. */
  bucketSeen?: boolean;
}

const MIB = 1024 * 1024;

/**
 * Puts finished object files into a bucket.
 *
 * - One attempt per call: the dispatcher owns retries and back-off (the SDK's own retries are
 *   off, so an outage shows as the sink backing off, not as a call that hangs).
 * - Objects up to `multipartThreshold` go in one PutObject with Content-MD5 (the server checks
 *   the bytes); larger ones as a multipart upload whose id is made durable in the journal
 *   before the first part, and removed once it is completed or aborted. A failed upload is
 *   aborted at once; one a crash interrupted is aborted at the next `open`.
 * - Checksums only when required (`WHEN_REQUIRED`): S3-compatible servers such as Swift's
 *   s3api refuse the SDK's default aws-chunked bodies.
 */
export class S3Target implements ObjectTarget {
  private client: S3Client | undefined;
  readonly where: S3Where;
  private readonly threshold: number;
  private readonly partBytes: number;
  /** The bucket answered: at this open's check, or (options.bucketSeen) at an earlier open of the same sink. */
  private bucketSeen: boolean;

  constructor(private readonly options: S3TargetOptions) {
    this.bucketSeen = options.bucketSeen ?? false;
    this.where = {
      bucket: options.bucket,
      endpoint: options.endpoint ?? `AWS (${options.region})`,
      region: options.region,
    };
    this.partBytes = Math.max(5 * MIB, options.partBytes ?? 8 * MIB);
    this.threshold = Math.max(this.partBytes, options.multipartThreshold ?? 16 * MIB);
  }

  /** Connects, checks the bucket and the credentials with one listing, and aborts uploads an earlier run left open. */
  async open(): Promise<void> {
    const timeout = this.options.requestTimeoutMs ?? 60_000;
    this.client = new (sdk().S3Client)({
      ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
      region: this.options.region,
      forcePathStyle: this.options.forcePathStyle,
      ...(this.options.credentials ? { credentials: this.options.credentials } : {}),
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: 5000,
        requestTimeout: timeout,
        httpAgent: new Agent({ keepAlive: true, maxSockets: 16 }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 16 }),
      },
    });
    try {
      await this.client.send(new (sdk().ListObjectsV2Command)({ Bucket: this.options.bucket, MaxKeys: 1 }));
    } catch (err) {
      throw this.classify(err, 'checking the bucket');
    }
    this.bucketSeen = true;
    for (const upload of this.options.journal.openUploads()) {
      try {
        await this.client.send(
          new (sdk().AbortMultipartUploadCommand)({
            Bucket: this.options.bucket,
            Key: upload.key,
            UploadId: upload.uploadId,
          }),
        );
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name !== 'NoSuchUpload' && name !== 'NotFound')
          throw this.classify(err, `aborting the unfinished upload of ${upload.key}`);
      }
      await this.options.journal.uploadEnded(upload.uploadId);
    }
  }

  async put(key: string, path: string, contentType: string): Promise<void> {
    const size = (await stat(path)).size;
    if (size > this.threshold) return this.putInParts(key, path, size, contentType);
    const body = await readFile(path);
    try {
      await this.s3().send(
        new (sdk().PutObjectCommand)({
          Bucket: this.options.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ContentMD5: md5(body),
        }),
      );
    } catch (err) {
      throw this.classify(err, `uploading ${key}`);
    }
  }

  /** Classifies a failure; once the bucket has answered (in this open or an earlier one), NoSuchBucket is retried. */
  private classify(err: unknown, doing: string): SinkError {
    return classifyS3Error(err, this.where, doing, this.bucketSeen);
  }

  close(): void {
    this.client?.destroy();
    this.client = undefined;
  }

  private s3(): S3Client {
    if (!this.client)
      throw classifyS3Error(
        Object.assign(new Error('the S3 client is closed'), { code: 'ECONNRESET' }),
        this.where,
        'uploading',
      );
    return this.client;
  }

  private async putInParts(key: string, path: string, size: number, contentType: string): Promise<void> {
    const s3 = this.s3();
    const Bucket = this.options.bucket;
    let uploadId: string | undefined;
    const file = await open(path, 'r');
    try {
      const created = await s3.send(
        new (sdk().CreateMultipartUploadCommand)({ Bucket, Key: key, ContentType: contentType }),
      );
      uploadId = created.UploadId!;
      await this.options.journal.uploadStarted({ key, uploadId });
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let offset = 0, n = 1; offset < size; offset += this.partBytes, n++) {
        const length = Math.min(this.partBytes, size - offset);
        const chunk = Buffer.allocUnsafe(length);
        await file.read(chunk, 0, length, offset);
        const part = await s3.send(
          new (sdk().UploadPartCommand)({
            Bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: n,
            Body: chunk,
            ContentMD5: md5(chunk),
          }),
        );
        parts.push({ ETag: part.ETag!, PartNumber: n });
      }
      await s3.send(
        new (sdk().CompleteMultipartUploadCommand)({
          Bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      await this.options.journal.uploadEnded(uploadId);
    } catch (err) {
      if (uploadId !== undefined) {
        // Abort now; if that fails too, the id stays in the journal and the next open aborts it.
        try {
          await s3.send(new (sdk().AbortMultipartUploadCommand)({ Bucket, Key: key, UploadId: uploadId }));
          await this.options.journal.uploadEnded(uploadId);
        } catch {
          /* left for the next open */
        }
      }
      throw this.classify(err, `uploading ${key} in parts`);
    } finally {
      await file.close();
    }
  }
}

function md5(body: Buffer): string {
  return createHash('md5').update(body).digest('base64');
}
