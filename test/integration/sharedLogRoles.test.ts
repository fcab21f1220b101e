import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { stringify } from 'yaml';
import WebSocket from 'ws';
import { runCli, startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { startHttpReceiver, type HttpReceiver } from '../support/httpReceiver.js';
import { waitUntil } from '../support/waitFor.js';
import { readNdjsonIds } from '../reliability/helpers.js';

/**
 * `beacon start --role collector|dispatcher` through the real CLI, on the machine's nats-server
 * (127.0.0.1:4222) with a stream of this run's own: a collector takes events, a dispatcher
 * delivers them to an HTTP endpoint; each serves only its part. `--role all` runs on the
 * JetStream log too. The roles refuse a config they cannot run, saying what to change.
 */
const NATS = 'nats://127.0.0.1:4222';
const run = randomBytes(4).toString('hex');
const streams: string[] = [];

function jetstreamLog(name: string) {
  const stream = `beacon-roles-${run}-${name}`;
  streams.push(stream);
  return {
    type: 'jetstream',
    servers: [NATS],
    stream,
    subject: `beacon-roles.${run}.${name}`,
    maxBytes: '16MiB',
    ackWait: '5s',
  };
}

after(async () => {
  const nc = await connect({ servers: NATS });
  const jsm = await jetstreamManager(nc);
  for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
  await nc.close();
});

describe('beacon start --role collector and --role dispatcher on a JetStream log', () => {
  let receiver: HttpReceiver;
  let collector: BeaconProcess;
  let dispatcher: BeaconProcess;

  before(async () => {
    receiver = await startHttpReceiver();
    const config = {
      log: jetstreamLog('split'),
      store: { type: 'none' },
      sinks: [{ name: 'hook', type: 'http', url: receiver.url, batch: { maxEvents: 100, maxWaitMs: 20 } }],
    };
    collector = await startBeacon(config, { args: ['--role', 'collector'] });
    dispatcher = await startBeacon(config, { args: ['--role', 'dispatcher'] });
  });

  after(async () => {
    await Promise.all([collector?.stop(), dispatcher?.stop()]);
    await Promise.all([collector?.cleanup(), dispatcher?.cleanup(), receiver?.stop()]);
  });

  it('delivers what the collector accepted through the shared log to the sink the dispatcher runs', async () => {
    const events = Array.from({ length: 50 }, (_, i) => ({ type: 'signup', id: `roles-${run}-${i}`, props: { i } }));
    const res = await fetch(`${collector.url}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as { accepted: number }).accepted, 50);
    assert.equal((await fetch(`${collector.url}/t/pixel?x=1`)).status, 204);
    await waitUntil(
      'the 51 events at the sink',
      () => {
        const got = receiver.ids();
        return events.every((e) => got.has(e.id)) && got.size >= 51;
      },
      20_000,
    );
    // The receiver holds the events before the sink's `deliver` returns and the loop counts
    // them as delivered: the count catches up a moment later.
    let status: unknown;
    await waitUntil(
      () => `the dispatcher to count 51 delivered to hook (last status ${JSON.stringify(status)})`,
      async () => {
        const res = (await (await fetch(`${dispatcher.url}/api/v1/status`)).json()) as {
          sinks: { name: string; delivered: number }[];
        };
        status = res;
        return (res.sinks.find((s) => s.name === 'hook')?.delivered ?? 0) >= 51;
      },
    );
  });

  it('the collector streams new events on /live, read from the shared log', async () => {
    const ws = new WebSocket(`${collector.url.replace('http', 'ws')}/live`);
    const seen: string[] = [];
    const ready = new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString()) as { kind: string; event?: { props: { tag?: string } } };
        if (m.kind === 'ready') resolve();
        if (m.kind === 'event' && m.event?.props.tag) seen.push(m.event.props.tag);
      });
      ws.on('error', reject);
    });
    try {
      await ready;
      assert.equal((await fetch(`${collector.url}/t/live_check?tag=${run}`)).status, 204);
      await waitUntil('the event on /live', () => seen.includes(run), 15_000);
    } finally {
      ws.close();
    }
  });

  it('the collector takes events and serves /live and /metrics, not the admin API', async () => {
    for (const path of ['/healthz', '/readyz'])
      assert.equal((await fetch(`${collector.url}${path}`)).status, 200, path);
    assert.match(await (await fetch(`${collector.url}/metrics`)).text(), /beacon_events_appended_total \d+/);
    const status = await fetch(`${collector.url}/api/v1/status`);
    assert.equal(status.status, 404);
    assert.equal(((await status.json()) as { code: string }).code, 'BEACON_E_NOT_FOUND');
  });

  it('the dispatcher answers the admin API and /metrics, and takes no events', async () => {
    const batch = await fetch(`${dispatcher.url}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[{"type":"x"}]',
    });
    assert.equal(batch.status, 404);
    assert.match(((await batch.json()) as { message: string }).message, /--role dispatcher/);
    assert.match(
      await (await fetch(`${dispatcher.url}/metrics`)).text(),
      /beacon_sink_delivered_total\{sink="hook"\} [1-9]/,
    );
    assert.equal((await fetch(`${dispatcher.url}/readyz`)).status, 200);
  });

  it('both stop cleanly on SIGTERM', async () => {
    assert.equal(await collector.stop(), 0);
    assert.equal(await dispatcher.stop(), 0);
  });
});

describe('beacon start --role all on a JetStream log', () => {
  it('collects, logs and delivers in one process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beacon-roles-all-'));
    const out = join(dir, 'out.ndjson');
    const beacon = await startBeacon({
      log: jetstreamLog('all'),
      sinks: [{ name: 'archive', type: 'file', path: out, batch: { maxEvents: 100, maxWaitMs: 20 } }],
    });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await fetch(`${beacon.url}/t/page_view?i=${i}`)).status, 204);
      await waitUntil('5 events in the file sink', async () => (await readNdjsonIds(out)).ids.length === 5, 20_000);
      assert.equal(await beacon.stop(), 0);
    } finally {
      await beacon.kill9().catch(() => undefined);
      await beacon.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('roles that need a shared log', () => {
  async function refusal(role: string, config: Record<string, unknown>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'beacon-roles-refuse-'));
    try {
      const path = join(dir, 'beacon.yaml');
      await writeFile(
        path,
        stringify({
          dataDir: join(dir, 'data'),
          server: { host: '127.0.0.1', port: 0 },
          sinks: [{ name: 'archive', type: 'file', path: join(dir, 'out.ndjson') }],
          ...config,
        }),
      );
      const res = await runCli(['start', '--role', role, '--config', path], { cwd: dir, timeoutMs: 30_000 });
      assert.equal(res.code, 1, res.stderr);
      return res.stderr;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('refuses --role collector and --role dispatcher with log.type local, saying what to set', async () => {
    for (const role of ['collector', 'dispatcher']) {
      const stderr = await refusal(role, {});
      assert.match(
        stderr,
        new RegExp(
          `error BEACON_E_ROLE_CONFIG: --role ${role} needs a log shared between processes, and log.type is local`,
        ),
      );
      assert.match(stderr, /log\.type: jetstream/);
    }
  });

  it('refuses --role dispatcher with the embedded store', async () => {
    const stderr = await refusal('dispatcher', { log: jetstreamLog('embedded') });
    assert.match(stderr, /error BEACON_E_ROLE_CONFIG: --role dispatcher cannot feed store\.type embedded/);
  });

  it('refuses server.workers above 1 for a collector on a shared log', async () => {
    const stderr = await refusal('collector', {
      log: jetstreamLog('workers'),
      server: { host: '127.0.0.1', port: 0, workers: 3 },
    });
    assert.match(stderr, /server\.workers is 3/);
    assert.match(stderr, /--role collector/);
  });

  it('stops with BEACON_E_LOG_UNAVAILABLE when no NATS server answers within connectTimeout', async () => {
    const stderr = await refusal('collector', {
      log: { ...jetstreamLog('down'), servers: ['nats://127.0.0.1:1'], connectTimeout: '1s' },
    });
    assert.match(
      stderr,
      /error BEACON_E_LOG_UNAVAILABLE: could not connect to NATS for the log at nats:\/\/127\.0\.0\.1:1/,
    );
  });
});
