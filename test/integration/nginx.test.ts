import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { DEFAULTS, renderNginxConfig } from '../../deploy/nginx/generate.mjs';
import { checksumHex } from '../../src/enrich/checksum.js';
import { httpsFetch, startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { freePort } from '../support/freePort.js';
import { startLoad } from '../support/loadClient.js';
import { startNginx, type NginxProcess } from '../support/nginx.js';
import { makeTestCertificates, type TestCertificates } from '../support/tlsCerts.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * deploy/nginx/generate.mjs's config, with Debian's nginx and a certificate made here, in front
 * of three Beacon processes (each its own data dir, port and file sink): TLS as configured,
 * plain HTTP only for event paths, identical requests on one collector (so its duplicate memory
 * flags the repeats), distinct URIs spread over all three, and a rolling restart of every
 * collector under steady load with no failed client request and every acknowledged event
 * delivered. `BEACON_RELIABILITY=long` restarts each collector twice, under more load.
 */
const LONG = process.env.BEACON_RELIABILITY === 'long';
const SHIPPED = fileURLToPath(new URL('../../deploy/nginx/beacon.conf', import.meta.url));
const COLLECTORS = 3;

interface LoggedEvent {
  id: string;
  type: string;
  ip?: string;
  props: Record<string, unknown>;
  meta: { duplicate?: boolean; corrupt?: boolean };
}

interface Collector {
  beacon: BeaconProcess;
  outPath: string;
}

/** Every event a collector's file sink wrote so far. */
async function delivered(c: Collector): Promise<LoggedEvent[]> {
  const text = await readFile(c.outPath, 'utf8').catch((err: NodeJS.ErrnoException) =>
    err.code === 'ENOENT' ? '' : Promise.reject(err),
  );
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LoggedEvent);
}

/** Events made durable by a collector since it started (read from the collector itself, not through nginx). */
async function appended(c: Collector): Promise<number> {
  const text = await (await fetch(`${c.beacon.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const m = /^beacon_events_appended_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

function tlsHandshake(options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(options, () => resolve(socket));
    socket.once('error', reject);
  });
}

const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;

describe(
  'nginx in front of three collectors (deploy/nginx/generate.mjs)',
  { timeout: (LONG ? 600 : 180) * 1000 },
  () => {
    const collectors: Collector[] = [];
    let nginx: NginxProcess;
    let certs: TestCertificates;
    let certDir: string;
    let httpsUrl: string;
    let httpUrl: string;
    let httpsPort: number;
    let get: ReturnType<typeof httpsFetch>;
    let accessLogPath: string;

    before(async () => {
      certDir = await mkdtemp(join(tmpdir(), 'beacon-nginx-certs-'));
      certs = await makeTestCertificates(certDir);
      get = httpsFetch(certs.rootCaPem);
      const started = await Promise.all(
        Array.from({ length: COLLECTORS }, async () => {
          const dataDir = await mkdtemp(join(tmpdir(), 'beacon-nginx-collector-'));
          const outPath = join(dataDir, 'out', 'events.ndjson');
          const beacon = await startBeacon(
            {
              server: { trustProxy: true },
              store: { type: 'none' },
              enrich: { ip: { anonymize: 'none' }, geo: { enabled: false } },
              sinks: [
                {
                  name: 'archive',
                  type: 'file',
                  path: outPath,
                  codec: 'json',
                  batch: { maxEvents: 500, maxWaitMs: 20 },
                },
              ],
            },
            { dataDir },
          );
          return { beacon, outPath };
        }),
      );
      collectors.push(...started);
      const httpPort = await freePort();
      nginx = await startNginx(({ prefix, port }) => {
        accessLogPath = join(prefix, 'logs', 'beacon.access.log');
        return renderNginxConfig({
          ...DEFAULTS,
          collectors: collectors.map((c) => `127.0.0.1:${c.beacon.port}`),
          serverName: 'localhost',
          cert: certs.chain,
          key: certs.key,
          httpsListen: `127.0.0.1:${port}`,
          httpListen: `127.0.0.1:${httpPort}`,
          accessLog: accessLogPath,
        });
      });
      httpsPort = nginx.port;
      httpsUrl = `https://localhost:${httpsPort}`;
      httpUrl = `http://127.0.0.1:${httpPort}`;
    });

    after(async () => {
      await nginx?.stop();
      await Promise.all(collectors.map(async (c) => (await c.beacon.stop(), await c.beacon.cleanup())));
      if (certDir) await rm(certDir, { recursive: true, force: true });
    });

    it('ships deploy/nginx/beacon.conf as the generator writes it for its defaults', async () => {
      assert.equal(
        await readFile(SHIPPED, 'utf8'),
        renderNginxConfig({ ...DEFAULTS, collectors: [...DEFAULTS.collectors] }),
        'regenerate beacon.conf: node deploy/nginx/generate.mjs --collector 10.0.0.11:8290 --collector 10.0.0.12:8290 --collector 10.0.0.13:8290 > deploy/nginx/beacon.conf',
      );
    });

    it('speaks TLS 1.2 and 1.3 only, with forward-secret AEAD suites, resumes sessions from its cache and sends HSTS', async () => {
      const base = { host: '127.0.0.1', port: httpsPort, servername: 'localhost', ca: certs.rootCaPem };
      const tls12 = await tlsHandshake({ ...base, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
      const cipher = tls12.getCipher();
      const session = await new Promise<Buffer>((resolve) => {
        const s = tls12.getSession();
        if (s) resolve(s);
        else tls12.once('session', resolve);
      });
      tls12.end();
      assert.equal(tls12.getProtocol(), 'TLSv1.2');
      assert.match(cipher.name, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
      const resumed = await tlsHandshake({ ...base, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', session });
      assert.equal(resumed.isSessionReused(), true, 'the second TLS 1.2 handshake resumed the cached session');
      resumed.end();

      const tls13 = await tlsHandshake({ ...base, minVersion: 'TLSv1.3' });
      assert.equal(tls13.getProtocol(), 'TLSv1.3');
      assert.equal(tls13.authorized, true, 'the chain (leaf + intermediate) verifies against the root only');
      tls13.end();

      // The client offers TLS 1.1 at most; nginx itself refuses it with a protocol_version alert.
      const old = await tlsHandshake({
        ...base,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      }).then(
        (s) => (s.destroy(), 'accepted'),
        (err: NodeJS.ErrnoException) => err.code ?? err.message,
      );
      assert.equal(old, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');

      const res = await get(`${httpsUrl}/healthz`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
    });

    it('redirects the page and the API to HTTPS but takes events over plain HTTP', async () => {
      const page = await fetch(`${httpUrl}/`, { redirect: 'manual' });
      assert.equal(page.status, 301);
      assert.equal(page.headers.get('location'), `https://127.0.0.1:${httpsPort}/`);
      const api = await fetch(`${httpUrl}/api/v1/status`, { redirect: 'manual' });
      assert.equal(api.status, 301);

      const pixel = await fetch(`${httpUrl}/t/plain_http?n=1`);
      assert.equal(pixel.status, 204);
      const batch = await fetch(`${httpUrl}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '[{"type":"plain_http","props":{"n":2}}]',
      });
      assert.equal(batch.status, 200);
      assert.equal(((await batch.json()) as { accepted: number }).accepted, 1);
    });

    it("keeps /metrics off the proxy and answers an oversized body with Beacon's own 413", async () => {
      const metrics = await get(`${httpsUrl}/metrics`);
      assert.equal(metrics.status, 404);
      assert.equal(((await metrics.json()) as { code: string }).code, 'BEACON_E_NOT_FOUND');

      const big = JSON.stringify([{ type: 'big', props: { pad: 'x'.repeat(2 * 1024 * 1024) } }]);
      const res = await get(`${httpsUrl}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: big,
      });
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as { code: string }).code, 'BEACON_E_BODY_TOO_LARGE');
    });

    it('sends /api/ to the --api servers, re-sending a failed GET to the next one but never a failed POST', async () => {
      // Two stand-in API servers: the first fails every request with 502, the second answers.
      const seen = { failing: [] as string[], answering: [] as string[] };
      const stub = (name: keyof typeof seen, status: number) =>
        createServer((req, res) => {
          seen[name].push(`${req.method} ${req.url}`);
          req.resume();
          req.on('end', () =>
            res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ servedBy: name })),
          );
        });
      const servers = [stub('failing', 502), stub('answering', 200)];
      const ports = await Promise.all(
        servers.map(async (srv) => {
          const port = await freePort();
          await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
          return port;
        }),
      );
      const withApi =
        (plainPort: number) =>
        ({ prefix, port }: { prefix: string; port: number }) =>
          renderNginxConfig({
            ...DEFAULTS,
            collectors: collectors.map((c) => `127.0.0.1:${c.beacon.port}`),
            api: ports.map((p) => `127.0.0.1:${p}`),
            serverName: 'localhost',
            cert: certs.chain,
            key: certs.key,
            httpsListen: `127.0.0.1:${port}`,
            httpListen: `127.0.0.1:${plainPort}`,
            accessLog: join(prefix, 'logs', 'beacon.access.log'),
          });
      // A fresh nginx sends its first request to the first server of the upstream (round robin), the failing one.
      const first = await startNginx(withApi(await freePort()));
      const second = await startNginx(withApi(await freePort()));
      try {
        const read = await get(`https://localhost:${first.port}/api/v1/status`);
        assert.equal(read.status, 200);
        assert.deepEqual(await read.json(), { servedBy: 'answering' });
        assert.deepEqual(
          seen,
          { failing: ['GET /api/v1/status'], answering: ['GET /api/v1/status'] },
          'the GET was re-sent',
        );

        const reload = await get(`https://localhost:${second.port}/api/v1/reload`, { method: 'POST', body: '{}' });
        assert.equal(reload.status, 502, 'the failed POST came back to the client');
        assert.deepEqual(seen.failing, ['GET /api/v1/status', 'POST /api/v1/reload']);
        assert.deepEqual(seen.answering, ['GET /api/v1/status'], 'the POST was not re-sent');

        const pixel = await get(`https://localhost:${first.port}/t/api_split?n=1`);
        assert.equal(pixel.status, 204, 'event paths still go to the collectors');
      } finally {
        await Promise.all([first.stop(), second.stop()]);
        for (const srv of servers) srv.close();
      }
    });

    it('passes /live as a WebSocket over TLS', async () => {
      const ws = new WebSocket(`wss://localhost:${httpsPort}/live?type=live_check`, { ca: certs.rootCaPem });
      const received: string[] = [];
      try {
        await new Promise<void>((resolve, reject) => {
          ws.on('message', (data: Buffer) => {
            const msg = JSON.parse(data.toString()) as { kind: string; event?: { props: { i: string } } };
            if (msg.kind === 'ready') resolve();
            if (msg.kind === 'event') received.push(msg.event!.props.i);
          });
          ws.once('error', reject);
        });
        // /live is one URI, so one collector serves it; distinct pixels reach it among the others
        // (each collector takes a third of the URIs or so: 300 tries cannot all miss it).
        for (let i = 0; i < 300 && received.length === 0; i += 10) {
          const answers = await Promise.all(
            Array.from({ length: 10 }, (_, j) => get(`${httpsUrl}/t/live_check?i=${i + j}`)),
          );
          assert.ok(answers.every((a) => a.status === 204));
          await new Promise((r) => setTimeout(r, 50));
        }
        await waitUntil('an event on the live stream', () => received.length > 0, 10_000);
      } finally {
        ws.close();
      }
    });

    it('tells the collector the client address, replacing an X-Forwarded-For the client sent', async () => {
      const marker = `xff-${Date.now()}`;
      const res = await get(`${httpsUrl}/t/xff_check?m=${marker}`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(res.status, 204);
      let event: LoggedEvent | undefined;
      await waitUntil('the xff_check event in a file sink', async () => {
        for (const c of collectors) event ??= (await delivered(c)).find((e) => e.props.m === marker);
        return event !== undefined;
      });
      assert.equal(event!.ip, '127.0.0.1');
    });

    it('sends identical requests to the same collector, whose duplicate memory flags the repeats', async (t: TestContext) => {
      const run = Date.now().toString(36);
      // Pixels: the short-term request memory.
      for (let k = 0; k < 3; k++) {
        for (let i = 0; i < 5; i++) assert.equal((await get(`${httpsUrl}/t/same_pixel?run=${run}&k=${k}`)).status, 204);
      }
      // The tracker's batches: POST /batch?cs=<checksum of the body>, so a retried batch has the
      // same URI; the persisted memory of client ids flags its events.
      const body = JSON.stringify(
        [0, 1, 2].map((n) => ({ type: 'same_batch', id: `${run}-b${n}`, props: { run, n } })),
      );
      for (let i = 0; i < 3; i++) {
        const res = await get(`${httpsUrl}/batch?cs=${checksumHex(Buffer.from(body))}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        assert.equal(res.status, 200);
      }

      const expected = 3 * 5 + 3 * 3;
      let perCollector: LoggedEvent[][] = [];
      await waitUntil(`${expected} events of this run delivered`, async () => {
        perCollector = await Promise.all(
          collectors.map(async (c) => (await delivered(c)).filter((e) => e.props.run === run)),
        );
        return perCollector.flat().length >= expected;
      });
      const groups = new Map<string, Set<number>>();
      perCollector.forEach((events, index) => {
        for (const e of events) {
          const key = e.type === 'same_pixel' ? `pixel k=${String(e.props.k)}` : 'batch';
          (groups.get(key) ?? groups.set(key, new Set()).get(key)!).add(index);
        }
      });
      for (const [key, where] of groups)
        assert.equal(where.size, 1, `every copy of ${key} reached one collector, not ${[...where].join(' and ')}`);
      const all = perCollector.flat();
      for (let k = 0; k < 3; k++) {
        const copies = all.filter((e) => e.type === 'same_pixel' && e.props.k === String(k));
        assert.equal(copies.length, 5);
        assert.equal(
          copies.filter((e) => e.meta.duplicate === true).length,
          4,
          `the 4 repeats of pixel k=${k} are flagged`,
        );
      }
      const batchCopies = all.filter((e) => e.type === 'same_batch');
      assert.equal(batchCopies.length, 9);
      assert.equal(
        batchCopies.filter((e) => e.meta.duplicate === true).length,
        6,
        'the events of the 2 repeated batches are flagged',
      );
      assert.ok(
        batchCopies.every((e) => e.meta.corrupt !== true),
        'the checksum in the URI matched every body',
      );
      t.diagnostic(
        `identical requests: ${[...groups].map(([key, where]) => `${key} -> collector ${[...where][0]}`).join(', ')}`,
      );
    });

    it('spreads distinct URIs across every collector', async (t: TestContext) => {
      const run = Date.now().toString(36);
      const count = 300;
      for (let i = 0; i < count; i += 10) {
        const answers = await Promise.all(
          Array.from({ length: 10 }, (_, j) => get(`${httpsUrl}/t/spread?run=${run}&i=${i + j}`)),
        );
        assert.ok(answers.every((a) => a.status === 204));
      }
      let shares: number[] = [];
      await waitUntil(`${count} spread events delivered`, async () => {
        shares = await Promise.all(
          collectors.map(async (c) => (await delivered(c)).filter((e) => e.props.run === run).length),
        );
        return shares.reduce((a, b) => a + b, 0) >= count;
      });
      assert.equal(
        shares.reduce((a, b) => a + b, 0),
        count,
      );
      // Ketama with 160 points per server: each share is about a third; a tenth would be far off.
      for (const share of shares)
        assert.ok(share >= count / 10, `each collector took at least 10% of the URIs: ${shares.join(', ')}`);
      t.diagnostic(`distinct URIs per collector: ${shares.map((s) => `${s} (${percent(s, count)})`).join(', ')}`);
    });

    it('restarts every collector in turn under steady load with zero failed requests, and delivers every acknowledged event', async (t: TestContext) => {
      const rounds = LONG ? 2 : 1;
      const load = startLoad({
        url: httpsUrl,
        ca: certs.rootCaPem,
        connections: 4,
        batchSize: 10,
        eventsPerSecond: LONG ? 1000 : 300,
        maxEvents: 1_000_000,
        maxDurationMs: (LONG ? 400 : 150) * 1000,
        // Generous: the machine is shared, and a slow answer is not a failed one.
        requestTimeoutMs: 60_000,
        idPrefix: 'rolling',
        // The tracker's URI: a checksum of the body, so batches spread over the collectors.
        path: (body) => `/batch?cs=${checksumHex(Buffer.from(body))}`,
      });
      const restarts: { collector: number; stopMs: number; startMs: number; backInMs: number }[] = [];
      try {
        for (let round = 0; round < rounds; round++) {
          for (let i = 0; i < collectors.length; i++) {
            const c = collectors[i]!;
            const before = await appended(c);
            await waitUntil(
              `collector ${i} taking load before its restart`,
              async () => (await appended(c)) > before,
              30_000,
              100,
            );
            const t0 = Date.now();
            const code = await c.beacon.stop();
            const t1 = Date.now();
            assert.equal(code, 0, `collector ${i} exited cleanly after SIGTERM:\n${c.beacon.output().slice(-2000)}`);
            await c.beacon.restart();
            const t2 = Date.now();
            // nginx leaves a failed collector out for fail_timeout (5 s), then sends it its URIs again.
            await waitUntil(
              `collector ${i} taking load again after its restart`,
              async () => (await appended(c)) > 0,
              30_000,
              100,
            );
            restarts.push({ collector: i, stopMs: t1 - t0, startMs: t2 - t1, backInMs: Date.now() - t2 });
          }
        }
      } finally {
        load.stop();
      }
      const result = await load.done;
      assert.ok(result.requests > 100, `the load kept going through the restarts (${result.requests} requests)`);
      assert.deepEqual(
        result.statuses,
        { 200: result.requests },
        `every request answered 200; got ${JSON.stringify(result.statuses)}, last error: ${result.lastError ?? 'none'}, samples: ${JSON.stringify(result.samples)}`,
      );
      assert.equal(result.acked.length, result.sent, 'every event sent was acknowledged');

      const seen = new Map<string, number>();
      const shares: number[] = [];
      await waitUntil(
        'every acknowledged event in a file sink',
        async () => {
          seen.clear();
          shares.length = 0;
          for (const c of collectors) {
            const events = (await delivered(c)).filter((e) => e.id.startsWith('rolling-'));
            shares.push(events.length);
            for (const e of events) seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
          }
          return result.acked.every((id) => seen.has(id));
        },
        60_000,
        200,
      );
      const missing = result.acked.filter((id) => !seen.has(id));
      assert.deepEqual(missing, []);
      const copies = [...seen.values()].reduce((a, b) => a + b, 0);

      const accessLog = await readFile(accessLogPath, 'utf8').catch(() => '');
      const batchLines = accessLog.split('\n').filter((l) => l.includes('"POST /batch?cs='));
      const retried = batchLines.filter((l) => /upstream=\S+, /.test(l)).length;
      t.diagnostic(
        `load: ${result.requests} requests, ${result.sent} events in ${(result.durationMs / 1000).toFixed(1)} s, statuses ${JSON.stringify(result.statuses)}`,
      );
      t.diagnostic(
        `delivered: ${seen.size} distinct acknowledged ids, ${copies - seen.size} extra copies; per collector ${shares.map((s) => `${s} (${percent(s, copies)})`).join(', ')}`,
      );
      t.diagnostic(`nginx retried ${retried} of ${batchLines.length} requests on another collector`);
      for (const r of restarts)
        t.diagnostic(
          `collector ${r.collector}: SIGTERM to exit ${r.stopMs} ms, start to ready ${r.startMs} ms, taking load again after ${r.backInMs} ms`,
        );
    });
  },
);
