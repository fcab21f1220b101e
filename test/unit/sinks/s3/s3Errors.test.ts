import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyS3Error } from '../../../../src/sinks/s3/s3Errors.js';

const where = { bucket: 'events', endpoint: 'http://127.0.0.1:8080', region: 'us-east-1' };

/** An error shaped as the AWS SDK throws it for an S3 error answer. */
function s3Error(name: string, status: number): Error {
  return Object.assign(new Error(`${name} message`), { name, Code: name, $metadata: { httpStatusCode: status } });
}

describe('s3 failure classes', () => {
  it('makes NoSuchBucket fatal, with what to fix, while the bucket has not answered in this run', () => {
    const e = classifyS3Error(s3Error('NoSuchBucket', 404), where, 'checking the bucket');
    assert.equal(e.kind, 'fatal');
    assert.equal(e.errorType, 'no_such_bucket');
    assert.match(e.message, /does not exist \(NoSuchBucket\): create it/);
  });

  it('retries NoSuchBucket, backed off, once the bucket answered earlier in the run (a restarting server says so for a moment)', () => {
    for (const err of [s3Error('NoSuchBucket', 404), s3Error('NotFound', 404)]) {
      const e = classifyS3Error(err, where, 'uploading k', true);
      assert.equal(e.kind, 'retry');
      assert.equal(e.errorType, 'no_such_bucket');
      assert.ok((e.retryAfterMs ?? 0) >= 2000);
      assert.match(e.message, /answered earlier in this run.*create it again/);
    }
  });

  it('keeps credentials and region failures fatal whether or not the bucket answered before', () => {
    for (const seen of [false, true]) {
      assert.equal(classifyS3Error(s3Error('InvalidAccessKeyId', 403), where, 'x', seen).kind, 'fatal');
      assert.equal(classifyS3Error(s3Error('SignatureDoesNotMatch', 403), where, 'x', seen).kind, 'fatal');
      assert.equal(classifyS3Error(s3Error('AccessDenied', 403), where, 'x', seen).kind, 'fatal');
    }
  });
});
