import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createGzip, deflateSync, gzipSync } from 'node:zlib';
import { rejectedCount, startCollector, type Collector } from './harness.js';

/** Gzips `bytes` zeros without holding them in memory. */
async function gzippedZeros(bytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  const block = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < bytes; written += block.length) {
    if (!gzip.write(block)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(out);
}

/**
 * Opens a raw connection, writes `head`, then keeps writing chunks (`maxChunks` at most) until
 * the server closes the connection. Reports how many chunks had gone out when the answer came.
 */
function streamUntilClosed(
  port: number,
  head: string,
  chunk: Buffer,
  maxChunks: number,
): Promise<{ answer: string; sentWhenAnswered: number; sent: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    let sentWhenAnswered = -1;
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      socket.destroy();
      resolve({ answer, sentWhenAnswered, sent });
    };
    socket.on('data', (data: Buffer) => {
      if (sentWhenAnswered === -1) sentWhenAnswered = sent;
      answer += data.toString('latin1');
    });
    socket.on('close', finish);
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' || err.code === 'EPIPE' ? finish() : reject(err),
    );
    socket.write(head);
    const pump = () => {
      if (closed || sent >= maxChunks) return;
      sent++;
      socket.write(`${chunk.length.toString(16)}\r\n`);
      socket.write(chunk);
      if (socket.write('\r\n')) setImmediate(pump);
      else socket.once('drain', pump);
    };
    pump();
  });
}

describe('body limits', () => {
  let collector: Collector;
  before(async () => {
    collector = await startCollector({ server: { limits: { bodyBytes: 64 * 1024, decompressedBytes: 256 * 1024 } } });
  });
  after(() => collector.close());

  test('it refuses a declared Content-Length above bodyBytes with 413 before reading the body', async () => {
    const before = await rejectedCount(collector, 'BEACON_E_BODY_TOO_LARGE');
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(collector.port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.endsWith('}')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
      // Headers only: the server must answer without waiting for the 10 MB it was promised.
      socket.write(
        'POST /t/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n',
      );
    });
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /"code":"BEACON_E_BODY_TOO_LARGE"/);
    assert.equal(await rejectedCount(collector, 'BEACON_E_BODY_TOO_LARGE'), before + 1);
  });

  test('it refuses a chunked body with 413 as soon as it crosses bodyBytes and cuts off the rest', async () => {
    const chunk = Buffer.alloc(16 * 1024, 'a');
    const { answer, sentWhenAnswered, sent } = await streamUntilClosed(
      collector.port,
      'POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      chunk,
      2000,
    );
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /"code":"BEACON_E_BODY_TOO_LARGE"/);
    // 64 KiB is crossed at the 5th chunk; socket buffers let the client run somewhat ahead.
    assert.ok(sentWhenAnswered < 200, `answered after ${sentWhenAnswered} chunks`);
    // After the answer the server drops at most LINGER_BYTES (8 MiB) more, then cuts the connection.
    assert.ok(sent < 1000, `the server cut the client off after ${sent} of 2000 chunks`);
  });

  test('it lets a client that sends an oversized body whole still read the 413', async () => {
    const answer = await collector.send({
      method: 'POST',
      path: '/batch',
      body: Buffer.alloc(512 * 1024, 'a'),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(answer.status, 413);
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_BODY_TOO_LARGE');
  });

  test('it answers 100-continue only for a body within the limit', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(collector.port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.write('POST /t/big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 999999\r\n\r\n');
    });
    assert.doesNotMatch(answer, /100 Continue/);
    assert.match(answer, /^HTTP\/1\.1 413 /);
  });

  test('it refuses a body that decompresses beyond decompressedBytes with 413 BEACON_E_DECOMPRESSED_TOO_LARGE', async () => {
    const body = deflateSync(JSON.stringify({ s: 'x'.repeat(300 * 1024) }));
    assert.ok(body.length < 64 * 1024);
    const answer = await collector.send({
      method: 'POST',
      path: '/t/big',
      body,
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'deflate' },
    });
    assert.equal(answer.status, 413);
    assert.equal((answer.json() as { code: string }).code, 'BEACON_E_DECOMPRESSED_TOO_LARGE');
  });

  test('it refuses a gzip bomb with 413 and memory stays bounded', async () => {
    const bomb = await gzippedZeros(64 * 1024 * 1024);
    assert.ok(bomb.length < 64 * 1024, `bomb is ${bomb.length} bytes on the wire`);
    const before = await rejectedCount(collector, 'BEACON_E_DECOMPRESSED_TOO_LARGE');
    globalThis.gc?.();
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 10; i++) {
      const answer = await collector.send({
        method: 'POST',
        path: '/batch',
        body: bomb,
        headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      });
      assert.equal(answer.status, 413);
      assert.equal((answer.json() as { code: string }).code, 'BEACON_E_DECOMPRESSED_TOO_LARGE');
    }
    const grownMiB = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    // Ten 64 MiB bombs inflated fully would need 640 MiB; the cap is 256 KiB each.
    assert.ok(grownMiB < 48, `rss grew by ${grownMiB.toFixed(1)} MiB`);
    assert.equal(await rejectedCount(collector, 'BEACON_E_DECOMPRESSED_TOO_LARGE'), before + 10);
  });

  test('it keeps serving after refusing oversized bodies', async () => {
    const answer = await collector.send({
      method: 'POST',
      path: '/t/after',
      body: gzipSync('{"fine":true}'),
      headers: { 'Content-Encoding': 'gzip' },
    });
    assert.equal(answer.status, 204);
  });
});
