import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { ensureTrackerBundle } from '../support/trackerBundle.js';
import { waitForValue } from '../support/waitFor.js';

/** Identities, the corruption check and /beacon.js in a running Beacon, read back from its file sink and data dir. */

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const sinks = [{ name: 'archive', type: 'file', path: 'out/events.ndjson', codec: 'json' }];

interface Line {
  id: string;
  type: string;
  partyId?: string;
  sessionId?: string;
  props: Record<string, string>;
  meta: Record<string, unknown>;
}

async function sinkLines(beacon: BeaconProcess): Promise<Line[]> {
  try {
    return (await readFile(join(beacon.dataDir, 'out', 'events.ndjson'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
  } catch {
    return [];
  }
}

function linesWhere(
  beacon: BeaconProcess,
  what: string,
  count: number,
  match: (line: Line) => boolean,
): Promise<Line[]> {
  return waitForValue(what, async () => {
    const found = (await sinkLines(beacon)).filter(match);
    return found.length >= count ? found : undefined;
  });
}

/** Bytes in one collector process's log partition: it grows only when that process appends. */
async function partitionBytes(beacon: BeaconProcess, partition: string): Promise<number> {
  const dir = join(beacon.dataDir, 'log', partition);
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(names.map(async (name) => (await stat(join(dir, name))).size));
  return sizes.reduce((a, b) => a + b, 0);
}

function pixel(beacon: BeaconProcess, n: string, ip = '8.8.4.4'): Promise<Response> {
  return fetch(`${beacon.url}/t/visit?n=${n}`, { headers: { 'user-agent': CHROME, 'x-forwarded-for': ip } });
}

describe('cookieless ids and the dead-letter for corrupt bodies in a running Beacon', () => {
  let beacon: BeaconProcess;

  before(async () => {
    await ensureTrackerBundle();
    beacon = await startBeacon({
      server: { trustProxy: true, cors: { origins: ['https://shop.example'], credentials: true } },
      enrich: { identity: { mode: 'cookieless' }, corruption: { action: 'dead-letter' } },
      sinks,
    });
  });
  after(async () => {
    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    await beacon.cleanup();
  });

  it('gives a visitor the same partyId across a restart, from the salt kept under dataDir, and sets no cookie', async () => {
    const day = () => new Date().toISOString().slice(0, 10);
    const dayBefore = day();
    const first = await pixel(beacon, 'before');
    assert.equal(first.status, 204);
    assert.equal(first.headers.get('set-cookie'), null);
    const salts = await readdir(join(beacon.dataDir, 'identity'));
    // The salt is named after the UTC day of the request: a run across midnight may see either day.
    assert.ok(
      salts.length === 1 && [`salt-${dayBefore}`, `salt-${day()}`].includes(salts[0]!),
      `one salt of today: ${JSON.stringify(salts)}`,
    );
    assert.equal(await beacon.stop(), 0);
    await beacon.restart();
    await pixel(beacon, 'after');
    await pixel(beacon, 'elsewhere', '9.9.9.9');
    const [before, afterRestart, other] = await Promise.all(
      ['before', 'after', 'elsewhere'].map(
        async (n) => (await linesWhere(beacon, `pixel ${n}`, 1, (l) => l.props.n === n))[0]!,
      ),
    );
    assert.match(before!.partyId!, /^[0-9a-f]{32}$/);
    assert.equal(afterRestart!.partyId, before!.partyId);
    assert.notEqual(other!.partyId, before!.partyId);
    assert.equal(before!.sessionId, undefined);
    const raw = await readFile(join(beacon.dataDir, 'out', 'events.ndjson'), 'utf8');
    assert.ok(!raw.includes('8.8.4.4'), 'the address the id is derived from is not written');
  });

  it('writes a batch that fails its checksum to dlq/corrupt-p0.ndjson, not to the log, and answers as usual', async () => {
    const body = JSON.stringify([{ type: 'order', id: 'corrupt-1', props: { total: '10' } }]);
    const answer = await fetch(`${beacon.url}/batch?cs=00000000`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain', 'user-agent': CHROME, 'x-forwarded-for': '8.8.4.4' },
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { accepted: 1, rejected: [] });
    const good = await fetch(`${beacon.url}/batch`, {
      method: 'POST',
      body: JSON.stringify([{ type: 'order', id: 'clean-1' }]),
    });
    assert.equal(good.status, 200);
    await linesWhere(beacon, 'the clean batch', 1, (l) => l.id === 'clean-1');
    assert.equal((await sinkLines(beacon)).filter((l) => l.id === 'corrupt-1').length, 0);
    const entries = (await readFile(join(beacon.dataDir, 'dlq', 'corrupt-p0.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(entries.length, 1);
    const entry = entries[0] as { code: string; reason: string; event: Line & { ip: string } };
    assert.equal(entry.code, 'BEACON_E_CORRUPT_DEAD_LETTERED');
    assert.match(entry.reason, /cs="00000000", computed [0-9a-f]{8}/);
    assert.equal(entry.event.id, 'corrupt-1');
    assert.equal(entry.event.meta.corrupt, true);
    assert.equal(entry.event.ip, '8.8.4.0');
    assert.match(entry.event.partyId!, /^[0-9a-f]{32}$/);
    const metrics = await (await fetch(`${beacon.url}/metrics`)).text();
    assert.match(metrics, /beacon_events_rejected_total\{source="http",code="BEACON_E_CORRUPT_DEAD_LETTERED"\} 1\n/);
    assert.match(metrics, /beacon_enrich_corrupt_total\{action="dead-letter"\} 1\n/);
  });

  it('serves the built tracker at /beacon.js, told to send credentials because the CORS origins allow them', async () => {
    const answer = await fetch(`${beacon.url}/beacon.js`);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-type'), 'application/javascript; charset=utf-8');
    assert.equal(answer.headers.get('content-encoding'), 'gzip');
    const code = await answer.text();
    assert.ok(code.trimEnd().endsWith('})({"credentials":true});'));
    const again = await fetch(`${beacon.url}/beacon.js`, { headers: { 'if-none-match': answer.headers.get('etag')! } });
    assert.equal(again.status, 304);
  });
});

describe('cookie ids across two collector processes', () => {
  let beacon: BeaconProcess;

  before(async () => {
    beacon = await startBeacon({ server: { workers: 2 }, sinks });
  });
  after(async () => {
    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    await beacon.cleanup();
  });

  it('keeps one party and one session whichever process takes the request, since the browser holds the state', async () => {
    const bytesBefore = await Promise.all(['p0', 'p1'].map((p) => partitionBytes(beacon, p)));
    const first = await fetch(`${beacon.url}/t/visit?n=0`);
    const cookie = first.headers
      .getSetCookie()
      .map((line) => line.slice(0, line.indexOf(';')))
      .join('; ');
    assert.match(cookie, /^beacon_pid=[0-9a-f-]{36}; beacon_sid=[0-9a-f-]{36}$/);
    // A fresh connection per request, so the kernel spreads them over both processes.
    for (let n = 1; n <= 30; n++) {
      const answer = await fetch(`${beacon.url}/t/visit?n=${n}`, { headers: { cookie, connection: 'close' } });
      assert.equal(answer.status, 204);
    }
    const lines = await linesWhere(beacon, 'all 31 pixels', 31, (l) => l.type === 'visit');
    assert.equal(new Set(lines.map((l) => l.partyId)).size, 1);
    assert.equal(new Set(lines.map((l) => l.sessionId)).size, 1);
    const bytesAfter = await Promise.all(['p0', 'p1'].map((p) => partitionBytes(beacon, p)));
    assert.ok(
      bytesAfter.every((bytes, i) => bytes > bytesBefore[i]!),
      `both collector processes took requests (log bytes ${bytesBefore.join(', ')} -> ${bytesAfter.join(', ')})`,
    );
  });
});
