import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { runCli, startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { startLoad, type RunningLoad } from '../support/loadClient.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * Config reload on a real Beacon process under a steady load: `beacon reload` adds a sink
 * (which takes the events from then on) and changes one (which resumes from its cursor),
 * SIGHUP removes one, an invalid config is refused with the old one kept, a port change is
 * reported as needing a restart; and through all of it no acknowledged event is lost.
 */

interface Written {
  id: string;
  props: { sentAt?: number };
}

async function eventsIn(path: string): Promise<Written[]> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) =>
    err.code === 'ENOENT' ? '' : Promise.reject(err),
  );
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Written);
}

async function idsIn(path: string): Promise<string[]> {
  return (await eventsIn(path)).map((e) => e.id);
}

async function sinkNames(beacon: BeaconProcess): Promise<string[]> {
  const res = await fetch(`${beacon.url}/api/v1/status`, { signal: AbortSignal.timeout(5000) });
  return ((await res.json()) as { sinks: { name: string }[] }).sinks.map((s) => s.name);
}

describe('config reload (SIGHUP, beacon reload)', { timeout: 180_000 }, () => {
  let beacon: BeaconProcess;
  let load: RunningLoad;
  let base: Record<string, unknown>;
  let dataDir: string;
  const out = (name: string) => join(dataDir, 'out', `${name}.ndjson`);
  const sink = (name: string, maxEvents = 100) => ({
    name,
    type: 'file',
    path: out(name),
    codec: 'json',
    batch: { maxEvents, maxWaitMs: 20 },
  });

  /** Writes the config file Beacon was started with: `base` (server, dataDir...) with these sinks and overrides. */
  async function writeConfig(sinks: unknown[], extra: Record<string, unknown> = {}): Promise<void> {
    await writeFile(
      beacon.configPath,
      stringify({
        ...base,
        ...extra,
        server: { ...(base.server as object), ...((extra.server as object) ?? {}) },
        sinks,
      }),
    );
  }

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'beacon-reload-'));
    beacon = await startBeacon(
      { store: { type: 'none' }, logging: { level: 'info' }, sinks: [sink('archive'), sink('old')] },
      { dataDir },
    );
    base = parse(await readFile(beacon.configPath, 'utf8')) as Record<string, unknown>;
    load = startLoad({
      url: beacon.url,
      connections: 2,
      batchSize: 10,
      eventsPerSecond: 200,
      maxEvents: 1_000_000,
      maxDurationMs: 150_000,
      requestTimeoutMs: 30_000,
      idPrefix: 'reload',
      // When the request was built: one built after a reload returned was appended after it.
      props: (n) => ({ n, sentAt: Date.now() }),
    });
    await waitUntil('events in the archive', async () => (await idsIn(out('archive'))).length > 100, 30_000, 100);
  });

  after(async () => {
    load?.stop();
    await load?.done;
    await beacon?.stop();
    await beacon?.cleanup();
  });

  it('adds a sink and changes another with `beacon reload`, and reports what needs a restart', async () => {
    const before = new Set(load.acked);
    await writeConfig([sink('archive', 7), sink('old'), sink('fresh')], { server: { port: beacon.port + 1 } });
    const res = await runCli(['reload', '--url', beacon.url]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /sinks added: +fresh \(from the end of the log/);
    assert.match(res.stdout, /sinks changed: +archive \(resumed from their cursor\)/);
    assert.match(res.stdout, /sinks unchanged: +old/);
    assert.match(res.stdout, /needs a restart to apply .*: server\.port/);
    const reloaded = Date.now();
    let archive: Written[] = [];
    const sentLater = () => archive.filter((e) => (e.props.sentAt ?? 0) > reloaded);
    await waitUntil(
      'events sent after the reload in the archive',
      async () => {
        archive = await eventsIn(out('archive'));
        return sentLater().length >= 100;
      },
      30_000,
      100,
    );
    const sentAfter = new Set(sentLater().map((e) => e.id));
    await waitUntil(
      'every event sent after the reload in the new sink',
      async () => {
        const fresh = new Set(await idsIn(out('fresh')));
        return sentAfter.size > 0 && [...sentAfter].every((id) => fresh.has(id));
      },
      30_000,
      100,
    ).catch(async (err: Error) => {
      const fresh = new Set(await idsIn(out('fresh')));
      const status = await (await fetch(`${beacon.url}/api/v1/status`)).text();
      throw new Error(
        `${err.message}: ${sentAfter.size} sent after, ${[...sentAfter].filter((id) => !fresh.has(id)).length} missing of ${fresh.size} in fresh; status ${status}\n${beacon.output().slice(-3000)}`,
      );
    });
    const fresh = await idsIn(out('fresh'));
    assert.ok(
      !fresh.some((id) => before.has(id)),
      'the new sink starts at the end of the log: nothing acknowledged before the reload',
    );
    assert.deepEqual((await sinkNames(beacon)).sort(), ['archive', 'fresh', 'old']);
    // The port stays as it was until a restart (the load above still reaches it).
    const config = (await (await fetch(`${beacon.url}/api/v1/config`)).json()) as {
      server: { port: number };
      sinks: { name: string; batch: { maxEvents: number } }[];
    };
    assert.equal(config.server.port, beacon.port);
    assert.equal(config.sinks.find((s) => s.name === 'archive')?.batch.maxEvents, 7);
  });

  it('removes a sink on SIGHUP: it stops after its batch in flight and leaves /api/v1/status and its gauges', async () => {
    await writeConfig([sink('archive', 7), sink('fresh')]);
    beacon.child.kill('SIGHUP');
    await waitUntil('the sink "old" gone', async () => !(await sinkNames(beacon)).includes('old'), 30_000, 100);
    const written = (await idsIn(out('old'))).length;
    const metrics = await (await fetch(`${beacon.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /beacon_sink_state\{[^}]*sink="old"/);
    await waitUntil(
      'more events in the archive',
      async () => (await idsIn(out('archive'))).length > written + 200,
      30_000,
      100,
    );
    assert.equal((await idsIn(out('old'))).length, written, 'the removed sink writes no more');
    assert.equal(beacon.child.exitCode, null, 'SIGHUP did not end the process');
  });

  it('refuses an invalid config: `beacon reload` prints why and exits 1, and Beacon keeps the running config', async () => {
    await writeConfig([{ ...sink('archive', 7), pathh: 'typo' }, sink('fresh'), sink('third')]);
    const res = await runCli(['reload', '--url', beacon.url]);
    assert.equal(res.code, 1);
    assert.match(
      res.stderr,
      /^error BEACON_E_RELOAD_REFUSED: the config from .*beacon\.yaml was not applied; Beacon keeps running with the previous one\. BEACON_E_CONFIG_UNKNOWN_KEY/m,
    );
    assert.match(res.stderr, /sinks\[0\]\.pathh: unknown key/);
    assert.match(res.stderr, /what to do: /);
    assert.deepEqual((await sinkNames(beacon)).sort(), ['archive', 'fresh']);
    await beacon.waitForOutput(/"event":"config_reload_refused"/);
  });

  it('loses no acknowledged event through the reloads: every one is in the archive', async (t: TestContext) => {
    const settle = [...load.acked];
    await waitUntil(
      'more load after the refused reload',
      async () => load.acked.size > settle.length + 200,
      30_000,
      100,
    );
    load.stop();
    const result = await load.done;
    assert.deepEqual(
      result.statuses,
      { 200: result.requests },
      `every request answered 200: ${JSON.stringify(result.statuses)} ${result.lastError ?? ''}`,
    );
    let archive: string[] = [];
    await waitUntil(
      'every acknowledged event in the archive',
      async () => {
        archive = await idsIn(out('archive'));
        const have = new Set(archive);
        return result.acked.every((id) => have.has(id));
      },
      60_000,
      200,
    );
    const distinct = new Set(archive.filter((id) => id.startsWith('reload-'))).size;
    assert.equal(distinct, result.acked.length);
    t.diagnostic(
      `${result.acked.length} events acknowledged across 3 reloads (one refused); archive holds each, with ${archive.length - distinct} extra copies`,
    );
  });
});

describe('config reload with server.workers 2', { timeout: 120_000 }, () => {
  let beacon: BeaconProcess;
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'beacon-reload-workers-'));
    beacon = await startBeacon(
      {
        server: { workers: 2 },
        store: { type: 'none' },
        sinks: [{ name: 'archive', type: 'file', path: join(dataDir, 'archive.ndjson') }],
      },
      { dataDir },
    );
  });

  after(async () => {
    await beacon?.stop();
    await beacon?.cleanup();
  });

  it('reloads in the primary on a SIGHUP sent to the whole process group, and every collector keeps serving', async () => {
    const base = parse(await readFile(beacon.configPath, 'utf8')) as Record<string, unknown>;
    await writeFile(
      beacon.configPath,
      stringify({
        ...base,
        sinks: [...(base.sinks as unknown[]), { name: 'added', type: 'file', path: join(dataDir, 'added.ndjson') }],
      }),
    );
    process.kill(-beacon.child.pid!, 'SIGHUP');
    await waitUntil('the sink "added" running', async () => (await sinkNames(beacon)).includes('added'), 30_000, 100);
    // Many connections, so both collector processes answer some.
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fetch(`${beacon.url}/t/after_hup?i=${i}`, { headers: { connection: 'close' } }).then((r) => r.status),
      ),
    );
    assert.ok(
      answers.every((s) => s === 204),
      `every pixel answered 204: ${answers.join(',')}`,
    );
    await waitUntil(
      'the 40 pixels in the added sink',
      async () => (await idsIn(join(dataDir, 'added.ndjson'))).length === 40,
      30_000,
      100,
    );
    // And through a collector, which forwards the admin call to the primary.
    const res = await runCli(['reload', '--url', beacon.url]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /sinks unchanged: archive, added/);
    assert.equal(beacon.child.exitCode, null);
    assert.doesNotMatch(beacon.output(), /collector process died/, 'no collector was ended by the SIGHUP');
  });
});
