import { SinkError } from '../sink.js';

/**
 * How an S3 failure maps to a failure kind, with a message that says what to fix:
 *
 * | failure                                                              | kind  |
 * |----------------------------------------------------------------------|-------|
 * | connection refused, reset, timed out, cut mid-body; any 5xx; 408, 429 | retry |
 * | `SlowDown` (503) and `RequestLimitExceeded`                         | retry, backed off at least 2 s |
 * | `NoSuchBucket` before the bucket has answered                          | fatal: create the bucket or fix `bucket` |
 * | `NoSuchBucket` after it answered in this run (`bucketSeen`)           | retry, backed off at least 2 s: a restarting server (Swift, MinIO) says so for a moment; a deleted bucket waits to be created again |
 * | `AccessDenied`, `AllAccessDisabled`                                   | fatal: grant the permissions |
 * | `InvalidAccessKeyId`                                                  | fatal: fix `accessKeyId` |
 * | `SignatureDoesNotMatch`                                               | fatal: fix `secretAccessKey` (or the key: Swift answers this for an unknown key) |
 * | `AuthorizationHeaderMalformed`, `PermanentRedirect`, `IllegalLocationConstraintException` | fatal: fix `region` / `endpoint` |
 * | any other 4xx (an unexpected answer about one request)                | retry: nothing is lost while it is looked at |
 */
export interface S3Where {
  bucket: string;
  endpoint: string;
  region: string;
}

const SLOW_DOWN_MS = 2000;

const NETWORK =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|TimeoutError|RequestTimeout|aborted/i;

interface S3ErrorShape {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
  $fault?: unknown;
}

export function classifyS3Error(err: unknown, where: S3Where, doing: string, bucketSeen = false): SinkError {
  if (err instanceof SinkError) return err;
  const e = classifyOnce(err, where, doing);
  if (bucketSeen && e.errorType === 'no_such_bucket') {
    // The bucket answered earlier in this run: a server restarting behind the endpoint says
    // NoSuchBucket for a moment (Swift's s3api does, before its container server is up).
    // Retrying keeps the events in the log and the sink running; a bucket really deleted shows
    // in the status as this error until it is created again.
    return new SinkError(
      'retry',
      `${doing}: bucket "${where.bucket}" at ${where.endpoint} answered NoSuchBucket although it answered earlier in this run; retrying (a restarting server says so for a moment). If the bucket was deleted, create it again: the events wait in the log`,
      { errorType: 'no_such_bucket', retryAfterMs: SLOW_DOWN_MS, cause: err },
    );
  }
  return e;
}

function classifyOnce(err: unknown, where: S3Where, doing: string): SinkError {
  const e = (err ?? {}) as S3ErrorShape;
  const name = String(e.Code ?? e.name ?? '');
  const status = e.$metadata?.httpStatusCode;
  const detail = String(e.message ?? err);
  const at = `bucket "${where.bucket}" at ${where.endpoint}`;
  const fatal = (message: string, errorType: string) =>
    new SinkError('fatal', `${doing}: ${message}`, { errorType, cause: err });
  switch (name) {
    case 'NoSuchBucket':
      return fatal(
        `${at} does not exist (NoSuchBucket): create it, or fix "bucket"/"endpoint" in the sink config`,
        'no_such_bucket',
      );
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return fatal(
        `access to ${at} is denied (${name}): give these credentials s3:ListBucket, s3:PutObject, s3:AbortMultipartUpload and s3:ListBucketMultipartUploads on it`,
        'access_denied',
      );
    case 'InvalidAccessKeyId':
      return fatal(
        `the server does not know this access key (InvalidAccessKeyId): fix "accessKeyId" (or the variable "accessKeyIdEnv" names)`,
        'invalid_access_key',
      );
    case 'SignatureDoesNotMatch':
      // Some servers (Swift's s3api among them) answer this for an unknown access key too.
      return fatal(
        `the request signature does not match (SignatureDoesNotMatch): "secretAccessKey" does not belong to "accessKeyId", or the server does not know that key; fix the secret or the key (or the variables "secretAccessKeyEnv"/"accessKeyIdEnv" name)`,
        'signature_mismatch',
      );
    case 'AuthorizationHeaderMalformed':
    case 'PermanentRedirect':
    case 'IllegalLocationConstraintException':
      return fatal(
        `${at} is not in region "${where.region}" (${name}: ${detail}): fix "region" or "endpoint"`,
        'wrong_region',
      );
    case 'SlowDown':
    case 'RequestLimitExceeded':
      return new SinkError('retry', `${doing}: the server asks to slow down (${name}); backing off`, {
        errorType: 'slow_down',
        retryAfterMs: SLOW_DOWN_MS,
        cause: err,
      });
  }
  if (status === 503)
    return new SinkError('retry', `${doing}: ${at} is unavailable (503 ${name}); backing off`, {
      errorType: 'http_503',
      retryAfterMs: SLOW_DOWN_MS,
      cause: err,
    });
  if (status !== undefined && status >= 500)
    return new SinkError('retry', `${doing}: ${at} answered ${status} ${name}: ${detail}`, {
      errorType: `http_${status}`,
      cause: err,
    });
  if (status === 403 && name === 'Forbidden') {
    // A HEAD answer has no body, so no code: say every cause a 403 can have.
    return fatal(
      `${at} answered 403 Forbidden: check "accessKeyId"/"secretAccessKey" and that they may use this bucket`,
      'access_denied',
    );
  }
  if (status === 404 && name === 'NotFound')
    return fatal(
      `${at} answered 404: the bucket does not exist; create it, or fix "bucket"/"endpoint"`,
      'no_such_bucket',
    );
  const code = String(e.code ?? '');
  if (status === undefined || NETWORK.test(code) || NETWORK.test(name) || NETWORK.test(detail)) {
    return new SinkError('retry', `${doing}: cannot reach ${where.endpoint}: ${detail}`, {
      errorType: (code || name || 'network').toLowerCase().slice(0, 40),
      cause: err,
    });
  }
  return new SinkError('retry', `${doing}: ${at} answered ${status} ${name}: ${detail}`, {
    errorType: `http_${status}`,
    cause: err,
  });
}
