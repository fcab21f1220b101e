import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { freePort } from './freePort.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The s3-swift tool (../shared/tools/s3-swift beside the repo, as CI checks it out). */
const TOOL = process.env.BEACON_S3_SWIFT_TOOL ?? join(REPO, '..', 'shared', 'tools', 's3-swift');

export const SWIFT_ACCESS_KEY = 'test:tester';
export const SWIFT_SECRET_KEY = 'testing';

/**
 * A one-node OpenStack Swift with its S3 API (shared/tools/s3-swift) as a test service, on a
 * free port in a fresh state dir. `start.sh` installs the Debian packages when they are
 * missing (scripts/test.sh installs them up front) and returns once a signed S3 request
 * succeeded; `stop()` stops the processes and removes the dir. `pause()`/`resume()` stop and
 * start the same instance (its data stays), to play an outage.
 */
export class SwiftS3 {
  readonly client: S3Client;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.client = swiftClient(this.endpoint);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<SwiftS3> {
    if (!existsSync(join(TOOL, 'start.sh')))
      throw new Error(
        `${TOOL}/start.sh not found: the S3 tests need ../shared/tools/s3-swift beside the repo (or BEACON_S3_SWIFT_TOOL)`,
      );
    const dir = mkdtempSync(join(tmpdir(), 'beacon-swift-'));
    const swift = new SwiftS3(dir, await freePort());
    await swift.resume();
    return swift;
  }

  /** Starts (again) the instance: same dir, same port, the objects kept. */
  async resume(): Promise<void> {
    try {
      await run('bash', [join(TOOL, 'start.sh'), this.dir, String(this.port)], {
        env: { ...process.env, SWIFT_S3_TIMEOUT: '60' },
        timeout: 180_000,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`s3-swift start.sh failed: ${e.stderr ?? e.message}`);
    }
  }

  /** Stops the processes; the data stays for `resume()`. */
  async pause(): Promise<void> {
    await run('bash', [join(TOOL, 'stop.sh'), this.dir], { timeout: 30_000 }).catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.client.destroy();
    await this.pause();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async createBucket(name: string): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: name }));
  }

  /** Empties and deletes the bucket. */
  async deleteBucket(name: string): Promise<void> {
    await this.emptyBucket(name);
    await this.client.send(new DeleteBucketCommand({ Bucket: name }));
  }

  /** Every key in the bucket under `prefix`, in key order. */
  async keys(bucket: string, prefix = ''): Promise<string[]> {
    return (await this.objects(bucket, prefix)).map((o) => o.key);
  }

  /** Every object under `prefix` with its ETag (which changes when the object is overwritten), in key order. */
  async objects(bucket: string, prefix = ''): Promise<{ key: string; etag: string }[]> {
    const objects: { key: string; etag: string }[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) objects.push({ key: o.Key!, etag: o.ETag ?? '' });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async get(bucket: string, key: string): Promise<Buffer> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  }

  /** Multipart uploads started and neither completed nor aborted. */
  async openUploads(bucket: string): Promise<string[]> {
    const res = await this.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return (res.Uploads ?? []).map((u) => u.Key!);
  }

  async emptyBucket(bucket: string): Promise<void> {
    const keys = await this.keys(bucket);
    for (let i = 0; i < keys.length; i += 500) {
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: keys.slice(i, i + 500).map((Key) => ({ Key })) },
        }),
      );
    }
  }
}

/** An S3 client with the settings Swift's s3api needs (its README): path style, checksums only when required, Content-MD5 on DeleteObjects. */
export function swiftClient(
  endpoint: string,
  credentials = { accessKeyId: SWIFT_ACCESS_KEY, secretAccessKey: SWIFT_SECRET_KEY },
): S3Client {
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      const request = args.request as { body?: unknown; headers: Record<string, string> };
      if (ctx.commandName === 'DeleteObjectsCommand' && typeof request.body === 'string') {
        request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
      }
      return next(args);
    },
    { step: 'build', name: 'contentMd5ForSwift' },
  );
  return client;
}
