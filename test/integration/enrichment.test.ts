import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';

/** Enrichment as a user sees it: Beacon as a real process, a pixel in, the file sink's line out. */

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

async function fileLines(path: string): Promise<Record<string, unknown>[]> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

async function waitForLine(
  path: string,
  match: (e: Record<string, unknown>) => boolean,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await fileLines(path)).find(match);
    if (found) return found;
    if (Date.now() > deadline) assert.fail('timed out waiting for the event in the file sink');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sinks = [{ name: 'archive', type: 'file', path: 'out/events.ndjson', codec: 'json' }];

describe('enrichment in a running Beacon (default settings, behind a trusted proxy)', () => {
  let beacon: BeaconProcess;
  let out: string;

  before(async () => {
    beacon = await startBeacon({ server: { trustProxy: true }, sinks });
    out = join(beacon.dataDir, 'out', 'events.ndjson');
  });
  after(async () => {
    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    await beacon.cleanup();
  });

  it('writes meta.ua and meta.geo and only the /24 of the client address', async () => {
    const res = await fetch(`${beacon.url}/t/pageview?n=1`, {
      headers: { 'user-agent': CHROME, 'x-forwarded-for': '8.8.8.8' },
    });
    assert.equal(res.status, 204);
    const line = await waitForLine(out, (e) => (e.props as { n?: string }).n === '1');
    const meta = line.meta as Record<string, unknown>;
    assert.deepEqual(meta.ua, { browser: 'Chrome', browserVersion: '120.0.0.0', os: 'Windows', osVersion: '10' });
    assert.deepEqual(meta.geo, { country: 'US' });
    assert.equal(meta.bot, undefined);
    assert.equal(line.ip, '8.8.8.0');
    assert.ok(!(await readFile(out, 'utf8')).includes('8.8.8.8'), 'the raw address is nowhere in the output');
  });

  it('flags a bot user agent with meta.bot and keeps the event', async () => {
    const res = await fetch(`${beacon.url}/t/pageview?n=2`, {
      headers: { 'user-agent': GOOGLEBOT, 'x-forwarded-for': '10.1.2.3' },
    });
    assert.equal(res.status, 204);
    const line = await waitForLine(out, (e) => (e.props as { n?: string }).n === '2');
    const meta = line.meta as Record<string, unknown>;
    assert.equal(meta.bot, true);
    assert.equal(meta.geo, undefined, 'a private address locates nowhere');
    assert.equal(line.ip, '10.1.2.0');
  });

  it('writes the clock skew of a batch event that carries its client time', async () => {
    const clientTs = Date.now() - 60_000;
    const res = await fetch(`${beacon.url}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': CHROME },
      body: JSON.stringify([{ type: 'late', ts: clientTs, props: { n: '3' } }]),
    });
    assert.equal(res.status, 200);
    const line = await waitForLine(out, (e) => (e.props as { n?: string }).n === '3');
    const skew = (line.meta as { clockSkewMs: number }).clockSkewMs;
    assert.ok(skew >= 60_000 && skew < 70_000, `skew ${skew}`);
    assert.equal(skew, (line.ts as number) - clientTs);
  });
});

describe('enrichment with bots dropped and the address removed', () => {
  let beacon: BeaconProcess;
  let out: string;

  before(async () => {
    beacon = await startBeacon({ sinks, enrich: { bots: { drop: true }, ip: { anonymize: 'full' } } });
    out = join(beacon.dataDir, 'out', 'events.ndjson');
  });
  after(async () => {
    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    await beacon.cleanup();
  });

  it('answers a bot as usual but writes only the human event, without an ip, and counts the drop', async () => {
    assert.equal(
      (await fetch(`${beacon.url}/t/pageview?who=bot`, { headers: { 'user-agent': GOOGLEBOT } })).status,
      204,
    );
    assert.equal(
      (await fetch(`${beacon.url}/t/pageview?who=human`, { headers: { 'user-agent': CHROME } })).status,
      204,
    );
    const human = await waitForLine(out, (e) => (e.props as { who?: string }).who === 'human');
    assert.equal('ip' in human, false);
    assert.equal((await fileLines(out)).filter((e) => (e.props as { who?: string }).who === 'bot').length, 0);
    const metrics = await (await fetch(`${beacon.url}/metrics`)).text();
    assert.match(metrics, /beacon_events_rejected_total\{source="http",code="BEACON_E_BOT_DROPPED"\} 1/);
    assert.match(metrics, /beacon_enrich_ua_cache_lookups_total\{result="miss"\} [1-9]/);
  });
});
