import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBeacon, runCli, type BeaconProcess } from '../support/beaconProcess.js';
import { freePort } from '../support/freePort.js';
import { waitForValue as waitFor } from '../support/waitFor.js';

/** The README's five-minute tour, run against Beacon as a real process. */

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

for (const workers of [1, 2]) {
  describe(`the README tour (${workers === 1 ? 'one process' : 'two collector processes'})`, () => {
    let beacon: BeaconProcess;
    let out: string;

    before(async () => {
      beacon = await startBeacon({
        server: { workers },
        sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson', codec: 'json' }],
      });
      out = join(beacon.dataDir, 'out', 'events.ndjson');
    });
    after(async () => {
      assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
      await beacon.cleanup();
    });

    it('answers a pixel with 204 and writes the event to the file sink in the documented shape', async () => {
      const res = await fetch(`${beacon.url}/t/pageview?path=/home&ref=newsletter`, {
        headers: { 'user-agent': 'tour-test/1.0' },
      });
      assert.equal(res.status, 204);
      const line = await waitFor('the pixel event in the file', async () =>
        (await fileLines(out)).find((e) => e.type === 'pageview'),
      );
      assert.deepEqual(line.props, { path: '/home', ref: 'newsletter' });
      assert.match(String(line.id), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(typeof line.ts, 'number');
      assert.equal(line.ua, 'tour-test/1.0');
      // IP anonymisation is on by default (enrich.ip.anonymize: truncate): the /24 is kept.
      assert.equal(line.ip, '127.0.0.0');
      assert.deepEqual(Object.keys(line).slice(0, 4), ['id', 'type', 'ts', 'props']);
      assert.equal(Object.keys(line).at(-1), 'meta');
    });

    it('answers /t/<type>.gif with a 1x1 GIF that is never cached', async () => {
      const res = await fetch(`${beacon.url}/t/pageview.gif?path=/pricing`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/gif');
      assert.match(res.headers.get('cache-control') ?? '', /no-store/);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(body.subarray(0, 6).toString('latin1'), 'GIF89a');
    });

    it('takes a batch, answers per-event results and delivers the accepted ones', async () => {
      const res = await fetch(`${beacon.url}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          { type: 'signup', id: `evt-${workers}-1`, props: { plan: 'pro' } },
          { type: 'click', props: { button: 'buy' } },
          { type: 'bad type!' },
        ]),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { accepted: number; rejected: { index: number; code: string }[] };
      assert.equal(body.accepted, 2);
      assert.deepEqual(
        body.rejected.map((r) => [r.index, r.code]),
        [[2, 'BEACON_E_BAD_TYPE']],
      );
      const signup = await waitFor('the signup in the file', async () =>
        (await fileLines(out)).find((e) => e.id === `evt-${workers}-1`),
      );
      assert.deepEqual(signup.props, { plan: 'pro' });
    });

    it('exposes the accounting ledger on /metrics', async () => {
      await waitFor('delivery counted', async () => {
        const text = await (await fetch(`${beacon.url}/metrics`)).text();
        return /beacon_sink_delivered_total\{sink="archive"\} [1-9]/.test(text) ? text : undefined;
      });
      const text = await (await fetch(`${beacon.url}/metrics`)).text();
      for (const name of [
        'beacon_events_received_total',
        'beacon_events_rejected_total',
        'beacon_events_appended_total',
        'beacon_sink_lag_events',
        'beacon_ingest_ack_seconds_bucket',
        'beacon_process_resident_memory_bytes',
      ]) {
        assert.ok(text.includes(name), `${name} missing from /metrics`);
      }
      assert.match(text, /beacon_events_rejected_total\{[^}]*code="BEACON_E_BAD_TYPE"[^}]*\} 1/);
    });

    it('answers /healthz and /readyz', async () => {
      assert.equal((await fetch(`${beacon.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${beacon.url}/readyz`)).status, 200);
    });

    it('sends with `beacon send` and shows it with `beacon status` as a table', async () => {
      const sent = await runCli(['send', 'signup', 'plan=team', '--url', beacon.url]);
      assert.equal(sent.code, 0, sent.stderr);
      await waitFor('the sent event in the file', async () =>
        (await fileLines(out)).find((e) => e.type === 'signup' && (e.props as { plan?: string }).plan === 'team'),
      );
      // The file holds the line before the sink's `deliver` returns and the loop moves the
      // cursor past the batch: the lag reaches 0 a moment later. Wait for it before the table.
      let archive: unknown;
      await waitFor(
        () => `the archive sink caught up (last seen ${JSON.stringify(archive)})`,
        async () => {
          const res = await fetch(`${beacon.url}/api/v1/status`);
          const sinks = ((await res.json()) as { sinks: { name: string; lagEvents: number }[] }).sinks;
          archive = sinks.find((s) => s.name === 'archive');
          return (archive as { lagEvents?: number } | undefined)?.lagEvents === 0 ? true : undefined;
        },
      );
      const status = await runCli(['status', '--url', beacon.url]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /SINK\s+TYPE\s+STATE\s+LAG/);
      assert.match(status.stdout, /archive\s+file\s+\w+\s+0\s/);
    });

    it('follows new events with `beacon tail`', async () => {
      // tail shows what arrives after it started following; the CLI's start-up time varies, so
      // keep sending until it has printed one.
      const tail = runCli(['tail', '--url', beacon.url, '--type', 'tailed', '--count', '1'], { timeoutMs: 30_000 });
      let done = false;
      void tail.then(() => (done = true));
      for (let n = 0; !done && n < 60; n++) {
        await fetch(`${beacon.url}/t/tailed?n=${n}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const result = await tail;
      assert.equal(result.code, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout.trim()) as { type: string }).type, 'tailed');
    });
  });
}

describe('beacon check-config', () => {
  it('names the field, the value and a suggestion, and exits non-zero', async () => {
    const dir = await import('node:os').then((os) => os.tmpdir());
    const path = join(dir, `beacon-broken-${process.pid}.yaml`);
    await writeFile(path, 'server:\n  prot: 8290\ndispatch:\n  maxFailoverDuration: soon\n');
    const res = await runCli(['check-config', '--config', path]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /server\.prot: unknown key; did you mean port\?/);
    assert.match(res.stderr, /dispatch\.maxFailoverDuration: expected a duration .* got "soon"/);
    assert.match(res.stderr, /what to do:/);
  });

  it('prints the resolved config with secrets redacted', async () => {
    const dir = await import('node:os').then((os) => os.tmpdir());
    const path = join(dir, `beacon-ok-${process.pid}.yaml`);
    await writeFile(
      path,
      'sinks:\n  - name: hook\n    type: http\n    url: http://127.0.0.1:1/in\n    headers: { Authorization: Bearer s3cret }\n',
    );
    const res = await runCli(['check-config', '--config', path]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /port: 8290/);
    assert.ok(!res.stdout.includes('s3cret'), res.stdout);
    assert.match(res.stderr, /config OK/);
  });

  it('stops `beacon start` with one clear message when the config URL is unreachable', async () => {
    const url = `http://127.0.0.1:${await freePort()}/beacon.yaml`;
    const res = await runCli(['start', '--config', url]);
    assert.equal(res.code, 1);
    assert.ok(
      res.stderr.includes(`BEACON_E_CONFIG_UNREACHABLE: cannot fetch config from ${url}: ECONNREFUSED`),
      res.stderr,
    );
  });
});
