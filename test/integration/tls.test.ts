import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpsFetch, startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { makeTestCertificates, type TestCertificates } from '../support/tlsCerts.js';
import { waitUntil } from '../support/waitFor.js';

describe('Beacon terminating TLS itself (server.tls)', () => {
  let dir: string;
  let certs: TestCertificates;
  let beacon: BeaconProcess;
  let get: ReturnType<typeof httpsFetch>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'beacon-tls-e2e-'));
    certs = await makeTestCertificates(dir);
    get = httpsFetch(certs.rootCaPem);
    beacon = await startBeacon(
      {
        server: { tls: { cert: certs.leaf, key: certs.key, ca: certs.intermediate } },
        api: { adminRequireTls: true, adminNetworks: ['127.0.0.0/8', '::1'] },
        sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson' }],
      },
      { https: { ca: certs.rootCaPem } },
    );
  });
  after(async () => {
    await beacon?.stop();
    await beacon?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a pixel over https and stores the event', async () => {
    const res = await get(`${beacon.url}/t/pageview?path=/secure`);
    assert.equal(res.status, 204);
    const file = join(beacon.dataDir, 'out', 'events.ndjson');
    await waitUntil('the event in the file sink', async () =>
      (await readFile(file, 'utf8').catch(() => '')).includes('"/secure"'),
    );
  });

  it('serves admin endpoints over https to a listed network', async () => {
    const res = await get(`${beacon.url}/api/v1/config`);
    assert.equal(res.status, 200);
    const config = (await res.json()) as { server: { tls: { cert: string } } };
    assert.equal(config.server.tls.cert, certs.leaf);
  });

  it('does not speak plain http on its port', async () => {
    await assert.rejects(
      fetch(beacon.url.replace('https:', 'http:') + '/api/v1/config', { signal: AbortSignal.timeout(3000) }),
    );
  });
});

describe('admin endpoints limited to TLS and networks behind a proxy (api.adminRequireTls, api.adminNetworks)', () => {
  let beacon: BeaconProcess;

  before(async () => {
    beacon = await startBeacon({
      // Collector processes forward admin requests to the primary over IPC: the check must survive the trip.
      server: { workers: 2, trustProxy: true },
      api: { adminRequireTls: true, adminNetworks: ['10.0.0.0/8'] },
      sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson' }],
    });
  });
  after(async () => {
    await beacon?.stop();
    await beacon?.cleanup();
  });

  async function admin(
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; code?: string; message?: string }> {
    const res = await fetch(`${beacon.url}${path}`, { headers });
    const body = (await res.json()) as { code?: string; message?: string };
    return { status: res.status, code: body.code, message: body.message };
  }

  it('refuses an admin endpoint over plain http with 403 BEACON_E_ADMIN_TLS_REQUIRED', async () => {
    const answer = await admin('/api/v1/config');
    assert.equal(answer.status, 403);
    assert.equal(answer.code, 'BEACON_E_ADMIN_TLS_REQUIRED');
    assert.match(answer.message!, /call it over https/);
    assert.equal(
      (await admin('/api/v1/status')).code,
      'BEACON_E_ADMIN_TLS_REQUIRED',
      'status is an admin endpoint too',
    );
  });

  it('refuses a client outside the listed networks with 403 BEACON_E_ADMIN_NETWORK', async () => {
    const answer = await admin('/api/v1/config', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' });
    assert.equal(answer.status, 403);
    assert.equal(answer.code, 'BEACON_E_ADMIN_NETWORK');
    assert.match(answer.message!, /api\.adminNetworks \(10\.0\.0\.0\/8\); this request came from 198\.51\.100\.7/);
  });

  it('takes the client from the hop the proxy added, so a client cannot claim a listed address', async () => {
    assert.equal(
      (await admin('/api/v1/config', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '10.0.0.5, 198.51.100.7' }))
        .code,
      'BEACON_E_ADMIN_NETWORK',
    );
    assert.equal(
      (await admin('/api/v1/config', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7, 10.0.0.5' }))
        .status,
      200,
    );
  });

  it('leaves collection and operations endpoints open', async () => {
    assert.equal((await fetch(`${beacon.url}/t/pageview?x=1`)).status, 204);
    assert.equal((await fetch(`${beacon.url}/metrics`)).status, 200);
    assert.equal((await fetch(`${beacon.url}/readyz`)).status, 200);
  });
});
