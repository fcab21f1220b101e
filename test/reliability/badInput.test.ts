import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { rm } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { alive, pixelAnswers, rssMiB, sleep, tempDataDir, withOutput } from './helpers.js';

/**
 * (e) Hostile or broken clients. Each bad request gets a 4xx with a BEACON_E_ code (or, for a
 * client that never finishes its request, the connection is cut by the server's timeouts);
 * afterwards the process is alive, a pixel still answers 204, and its memory stayed bounded.
 */
const RSS_GROWTH_LIMIT_MIB = 100;
const REQUEST_TIMEOUT_MS = 2000;
const HEADERS_TIMEOUT_MS = 1000;

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request through node:http on a fresh connection. It resolves with the answer even when the
 * server answers early and cuts the connection while the body is still being written; it
 * rejects only when no answer came.
 */
function raw(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer | ((write: (b: Buffer) => boolean) => Promise<void>),
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(`${url}${path}`, { method, headers, agent: false, timeout: 20_000 }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (typeof body === 'function') {
      body((b) => req.write(b))
        .then(() => req.end())
        .catch(() => undefined);
    } else {
      req.end(body);
    }
  });
}

function code(answer: RawAnswer): string | undefined {
  try {
    return (JSON.parse(answer.body) as { code?: string }).code;
  } catch {
    return undefined;
  }
}

/** A raw socket that sends `prefix`, then one more byte of `drip` every `everyMs`; resolves when the server ends it. */
function trickle(
  port: number,
  prefix: string,
  drip: string,
  everyMs: number,
  giveUpMs: number,
): Promise<{ cutAfterMs: number | undefined; received: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (cut: boolean) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ cutAfterMs: cut ? Date.now() - started : undefined, received });
    };
    const giveUp = setTimeout(() => finish(false), giveUpMs);
    socket.on('connect', () => {
      socket.write(prefix);
      timer = setInterval(() => {
        if (socket.writable) socket.write(drip[i++ % drip.length]!);
      }, everyMs);
    });
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('end', () => finish(true));
  });
}

describe('bad input at the HTTP collector', { timeout: 120_000 }, () => {
  let beacon: BeaconProcess | undefined;
  let dataDir: string;
  let baseline = 0;
  let maxRss = 0;
  let sampler: NodeJS.Timeout | undefined;

  before(async () => {
    dataDir = await tempDataDir();
    beacon = await startBeacon(
      {
        server: { workers: 1, requestTimeoutMs: REQUEST_TIMEOUT_MS, headersTimeoutMs: HEADERS_TIMEOUT_MS },
        sinks: [{ name: 'archive', type: 'file', path: `${dataDir}/out/events.ndjson`, codec: 'json' }],
      },
      { dataDir },
    );
    // Warm up the ordinary paths so the baseline is not a cold process.
    for (let i = 0; i < 50; i++) assert.equal(await pixelAnswers(beacon), 204);
    await sleep(500);
    baseline = rssMiB(beacon.child.pid);
    maxRss = baseline;
    sampler = setInterval(() => {
      try {
        maxRss = Math.max(maxRss, rssMiB(beacon!.child.pid));
      } catch {
        // gone: the liveness assertions report it
      }
    }, 100);
  });

  after(async () => {
    clearInterval(sampler);
    console.log(
      `bad input: rss baseline=${baseline.toFixed(1)}MiB max=${maxRss.toFixed(1)}MiB (+${(maxRss - baseline).toFixed(1)}MiB)`,
    );
    await beacon?.kill9().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  const stillServes = async () => {
    assert.ok(alive(beacon!), withOutput(beacon!, 'the beacon process died'));
    assert.equal(await pixelAnswers(beacon!), 204, 'a pixel still answers 204');
  };

  it('answers malformed JSON with 400 BEACON_E_BAD_JSON and keeps serving', async () => {
    for (const body of ['[{"type": "page_view",', '{not json', '[1, 2', '\u0000\u0001\u0002']) {
      const res = await raw(beacon!.url, 'POST', '/batch', { 'content-type': 'application/json' }, Buffer.from(body));
      assert.equal(res.status, 400, `POST /batch ${JSON.stringify(body)} -> ${res.status} ${res.body}`);
      assert.equal(code(res), 'BEACON_E_BAD_JSON', res.body);
    }
    await stillServes();
  });

  it('answers an oversized body with 413 BEACON_E_BODY_TOO_LARGE, declared or chunked, and keeps serving', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 'a');
    const declared = await raw(
      beacon!.url,
      'POST',
      '/batch',
      { 'content-type': 'application/json', 'content-length': String(big.length) },
      big,
    );
    assert.equal(declared.status, 413, declared.body);
    assert.equal(code(declared), 'BEACON_E_BODY_TOO_LARGE', declared.body);

    // No Content-Length: the server must stop at the chunk that crosses the limit.
    const chunked = await raw(
      beacon!.url,
      'POST',
      '/batch',
      { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      async (write) => {
        const chunk = Buffer.alloc(64 * 1024, 'b');
        for (let i = 0; i < 64; i++) {
          write(chunk);
          await sleep(2);
        }
      },
    );
    assert.equal(chunked.status, 413, chunked.body);
    assert.equal(code(chunked), 'BEACON_E_BODY_TOO_LARGE', chunked.body);
    await stillServes();
  });

  it('answers a gzip bomb with 413 BEACON_E_DECOMPRESSED_TOO_LARGE without inflating it, and keeps serving', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024), { level: 9 });
    const send = () =>
      raw(
        beacon!.url,
        'POST',
        '/batch',
        { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(bomb.length) },
        bomb,
      );
    // A few one after another, then several at once.
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await send());
    answers.push(...(await Promise.all(Array.from({ length: 6 }, send))));
    // Past server.limits.largeBodiesAtOnce (4) of them at once, the rest are refused 503 BEACON_E_BUSY before they are read.
    for (const [i, res] of answers.entries()) {
      if (i >= 3 && res.status === 503) {
        assert.equal(code(res), 'BEACON_E_BUSY', res.body);
        continue;
      }
      assert.equal(res.status, 413, `${bomb.length} gzipped bytes of 50 MB of zeros -> ${res.status} ${res.body}`);
      assert.equal(code(res), 'BEACON_E_DECOMPRESSED_TOO_LARGE', res.body);
    }
    assert.ok(
      answers.filter((r) => r.status === 413).length >= 4,
      'at least the first three and one of the burst were read and refused for their size',
    );
    // A body that claims gzip but is not.
    const fake = await raw(
      beacon!.url,
      'POST',
      '/batch',
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      Buffer.from('[{"type":"x"}]'),
    );
    assert.equal(fake.status, 400, fake.body);
    assert.equal(code(fake), 'BEACON_E_BAD_ENCODING', fake.body);
    await stillServes();
    assert.ok(
      maxRss - baseline < RSS_GROWTH_LIMIT_MIB,
      `RSS grew by ${(maxRss - baseline).toFixed(1)} MiB on gzip bombs (baseline ${baseline.toFixed(1)} MiB)`,
    );
  });

  it('refuses a bad event type name with BEACON_E_BAD_TYPE and keeps serving', async () => {
    const single = await raw(
      beacon!.url,
      'POST',
      `/t/${encodeURIComponent('bad type!')}`,
      { 'content-type': 'application/json' },
      Buffer.from('{"a":1}'),
    );
    assert.equal(single.status, 400, single.body);
    assert.equal(code(single), 'BEACON_E_BAD_TYPE', single.body);

    const pixel = await raw(beacon!.url, 'GET', `/t/${'x'.repeat(200)}?a=1`, {});
    assert.equal(pixel.status, 400, pixel.body);
    assert.equal(code(pixel), 'BEACON_E_BAD_TYPE', pixel.body);

    // In a batch the bad event is refused by index (the others would be kept): nothing accepted.
    const batch = await raw(
      beacon!.url,
      'POST',
      '/batch',
      { 'content-type': 'application/json' },
      Buffer.from(JSON.stringify([{ type: '../../etc/passwd' }])),
    );
    if (batch.status === 200) {
      const parsed = JSON.parse(batch.body) as { accepted: number; rejected: { index: number; code: string }[] };
      assert.equal(parsed.accepted, 0, batch.body);
      assert.deepEqual(
        parsed.rejected.map((r) => [r.index, r.code]),
        [[0, 'BEACON_E_BAD_TYPE']],
        batch.body,
      );
    } else {
      assert.equal(batch.status, 400, batch.body);
      assert.equal(code(batch), 'BEACON_E_BAD_TYPE', batch.body);
    }
    await stillServes();
  });

  it('cuts slow-trickling clients off by its header and request timeouts, and keeps serving', async () => {
    const limitMs = 3 * REQUEST_TIMEOUT_MS + 4000;
    const head = 'POST /batch HTTP/1.1\r\nHost: x\r\n';
    const headerDrip = 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n';
    const bodyPrefix =
      'POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[';
    // Twenty clients trickling headers and twenty trickling a body, one byte a second each.
    const clients = [
      ...Array.from({ length: 20 }, () => trickle(beacon!.port, head, headerDrip, 1000, limitMs + 10_000)),
      ...Array.from({ length: 20 }, () => trickle(beacon!.port, bodyPrefix, '{"type":"a"},', 1000, limitMs + 10_000)),
    ];
    // The server keeps answering others meanwhile.
    await sleep(500);
    await stillServes();
    const results = await Promise.all(clients);
    const headerCuts = results.slice(0, 20).map((r) => r.cutAfterMs);
    const bodyCuts = results.slice(20).map((r) => r.cutAfterMs);
    console.log(
      `slow trickle: header clients cut after ${JSON.stringify(headerCuts)} ms; body clients cut after ${JSON.stringify(bodyCuts)} ms; ` +
        `first answers: ${JSON.stringify(results[0]!.received.split('\r\n')[0])}, ${JSON.stringify(results[20]!.received.split('\r\n')[0])}`,
    );
    for (const [i, r] of results.entries()) {
      assert.ok(
        r.cutAfterMs !== undefined && r.cutAfterMs <= limitMs,
        `trickling client ${i} was not cut off within ${limitMs} ms (cut after ${r.cutAfterMs} ms)`,
      );
      // If the server answered before closing, the answer is a 4xx, or 503 BEACON_E_BUSY for a large
      // body beyond server.limits.largeBodiesAtOnce (they declare 100,000 bytes).
      if (r.received.startsWith('HTTP/1.1 '))
        assert.match(r.received, /^HTTP\/1\.1 (4\d\d |503 [\s\S]*BEACON_E_BUSY)/, r.received.slice(0, 400));
    }
    await stillServes();
  });

  it('keeps its memory bounded through all of it', () => {
    assert.ok(alive(beacon!), withOutput(beacon!, 'the beacon process died'));
    assert.ok(
      maxRss - baseline < RSS_GROWTH_LIMIT_MIB,
      `RSS grew by ${(maxRss - baseline).toFixed(1)} MiB (baseline ${baseline.toFixed(1)} MiB, max ${maxRss.toFixed(1)} MiB)`,
    );
  });
});
