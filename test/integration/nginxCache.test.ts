import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { freePort } from '../support/freePort.js';
import { startNginx, type NginxProcess } from '../support/nginx.js';

/**
 * deploy/nginx/api-cache.conf, as shipped (only its upstream address, listen port and cache
 * path replaced), in front of a real Beacon process (through a relay that adds 250 ms, the
 * time a real query may take): nginx keeps a real-time answer for the
 * max-age Beacon sends, coalesces a burst into one upstream request, never caches admin
 * endpoints, and never shares what a token-bearing request got.
 */

const EXAMPLE = fileURLToPath(new URL('../../deploy/nginx/api-cache.conf', import.meta.url));
const READ = 'nginx-test-read-token-0123456789';
const ADMIN = 'nginx-test-admin-token-0123456789';

function adapt(example: string, beaconPort: number, paths: { prefix: string; port: number }): string {
  const replaced = example
    .replace('server 127.0.0.1:8290;', `server 127.0.0.1:${beaconPort};`)
    .replace('listen 8080;', `listen 127.0.0.1:${paths.port};`)
    .replace('/var/cache/nginx/beacon-api', `${paths.prefix}/cache`);
  for (const marker of [`:${beaconPort};`, `:${paths.port};`, `${paths.prefix}/cache`]) {
    assert.ok(replaced.includes(marker), `the example no longer has the line the test replaces with ${marker}`);
  }
  return replaced;
}

/**
 * Relays HTTP to Beacon after `delayMs`, standing in for a query that takes a while, so a
 * burst of identical requests reaches nginx while the first is still upstream.
 */
async function slowRelay(target: string, delayMs: number): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  const server = createServer((req, res) => {
    setTimeout(() => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && !['connection', 'host', 'keep-alive'].includes(k)) headers[k] = v;
      fetch(`${target}${req.url ?? '/'}`, { method: req.method, headers })
        .then(async (upstream) => {
          const out: Record<string, string> = {};
          upstream.headers.forEach((v, k) => {
            if (!['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding'].includes(k))
              out[k] = v;
          });
          res.writeHead(upstream.status, out);
          res.end(Buffer.from(await upstream.arrayBuffer()));
        })
        .catch(() => res.destroy());
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, server };
}

/** Requests Beacon's router answered for one endpoint class, whatever the status (read from Beacon directly). */
async function beaconRequests(beacon: BeaconProcess, cls: string): Promise<number> {
  const text = await (await fetch(`${beacon.url}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(
    new RegExp(`^beacon_api_requests_total\\{class="${cls}",status="\\d+"\\} (\\d+)`, 'gm'),
  ))
    total += Number(m[1]);
  return total;
}

describe('nginx proxy_cache in front of the API (deploy/nginx/api-cache.conf)', () => {
  let beacon: BeaconProcess;
  let nginx: NginxProcess;
  let relay: { port: number; server: Server };
  const throughput = '/api/v1/throughput?seconds=60';

  before(async () => {
    beacon = await startBeacon({
      api: {
        tokens: [
          { name: 'dashboard', token: READ, scopes: ['read'] },
          { name: 'ops', token: ADMIN, scopes: ['admin'] },
        ],
        publicRead: true,
        // 5 s rather than the 2 s it was: on a loaded machine the first (MISS) answer can take
        // more than a second, and the HIT that follows must still fall inside the TTL.
        cache: { realtime: '5s' },
      },
      sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson' }],
    });
    const example = await readFile(EXAMPLE, 'utf8');
    relay = await slowRelay(beacon.url, 250);
    nginx = await startNginx((paths) => adapt(example, relay.port, paths));
  });

  after(async () => {
    await nginx?.stop();
    relay?.server.close();
    await beacon?.stop();
    await beacon?.cleanup();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${nginx.url}${path}`, { headers });

  it('serves a real-time answer from its cache within the TTL, and asks Beacon again after it', async () => {
    // Start on a fresh second so the 5 s TTL does not run out between the two requests.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const before = await beaconRequests(beacon, 'realtime');
    const first = await get(throughput);
    assert.equal(first.status, 200, await nginx.errors());
    assert.equal(first.headers.get('x-cache-status'), 'MISS');
    assert.equal(first.headers.get('cache-control'), 'public, max-age=5');
    const firstBody = await first.text();
    const second = await get(throughput);
    assert.equal(second.headers.get('x-cache-status'), 'HIT');
    assert.equal(await second.text(), firstBody);
    assert.equal(second.headers.get('etag'), first.headers.get('etag'));
    assert.equal(await beaconRequests(beacon, 'realtime'), before + 1, 'the HIT reached Beacon');

    // nginx counts expiry in whole seconds: an answer with max-age=5 stored at second T is fresh until T+6.
    await new Promise((r) => setTimeout(r, 6100));
    const later = await get(throughput);
    await later.text();
    // nginx calls a miss on an entry it still holds but that expired EXPIRED (REVALIDATED when Beacon answered 304).
    assert.ok(
      ['MISS', 'EXPIRED', 'REVALIDATED'].includes(later.headers.get('x-cache-status') ?? ''),
      `after the TTL: ${later.headers.get('x-cache-status')}`,
    );
    assert.equal(await beaconRequests(beacon, 'realtime'), before + 2);
  });

  it('sends Beacon one request for a burst of 20 identical ones at expiry (proxy_cache_lock, use_stale updating)', async () => {
    await get(throughput).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 6100));
    const before = await beaconRequests(beacon, 'realtime');
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(throughput)));
    const statuses = answers.map((a) => a.headers.get('x-cache-status'));
    await Promise.all(answers.map((a) => a.text()));
    assert.ok(answers.every((a) => a.status === 200));
    assert.equal(await beaconRequests(beacon, 'realtime'), before + 1, `statuses: ${statuses.join(', ')}`);
  });

  it('never caches admin endpoints', async () => {
    const before = await beaconRequests(beacon, 'admin');
    for (let i = 0; i < 3; i++) {
      const res = await get('/api/v1/status', { authorization: `Bearer ${READ}` });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.notEqual(res.headers.get('x-cache-status'), 'HIT');
      await res.text();
    }
    assert.equal(await beaconRequests(beacon, 'admin'), before + 3);
  });

  it('answers 401 for an admin endpoint without a token right after an authorised call, and 403 for a read token', async () => {
    const allowed = await get('/api/v1/config', { authorization: `Bearer ${ADMIN}` });
    assert.equal(allowed.status, 200);
    const config = await allowed.text();
    assert.ok(!config.includes(ADMIN) && !config.includes(READ), 'the config shows a token');
    const anonymous = await get('/api/v1/config');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="beacon"');
    assert.equal(((await anonymous.json()) as { code: string }).code, 'BEACON_E_UNAUTHORIZED');
    const reader = await get('/api/v1/config', { authorization: `Bearer ${READ}` });
    assert.equal(reader.status, 403);
    await reader.text();
  });

  it('lets a request that carries a token neither read nor fill the shared cache', async () => {
    const before = await beaconRequests(beacon, 'realtime');
    for (let i = 0; i < 2; i++) {
      const res = await get(throughput, { authorization: `Bearer ${READ}` });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-cache-status'), 'BYPASS');
      await res.text();
    }
    assert.equal(await beaconRequests(beacon, 'realtime'), before + 2);
  });
});
