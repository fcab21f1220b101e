import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { startHttpReceiver, type HttpReceiver } from '../support/httpReceiver.js';
import { startSmtpReceiver, type SmtpReceiver } from '../support/smtpReceiver.js';
import { makeTestCertificates, type TestCertificates } from '../support/tlsCerts.js';
import { waitUntil } from '../support/waitFor.js';

interface AlertBody {
  text: string;
  status: string;
  rule: string;
  instance: string | null;
  values: Record<string, unknown>;
}

const alertsIn = (r: HttpReceiver) => r.events as unknown as AlertBody[];

async function metric(beacon: BeaconProcess, line: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${beacon.url}/metrics`)).text();
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? undefined : Number(m.split(' ').at(-1));
}

describe('alerts in a running Beacon', () => {
  let dir: string;
  let certs: TestCertificates;
  let smtp: SmtpReceiver;
  let destination: HttpReceiver;
  let chat: HttpReceiver;
  let beacon: BeaconProcess;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'beacon-alerts-e2e-'));
    certs = await makeTestCertificates(dir);
    smtp = await startSmtpReceiver({ cert: certs.chain, key: certs.key, user: 'beacon', password: 'mail-secret' });
    destination = await startHttpReceiver();
    chat = await startHttpReceiver({ path: '/chat' });
    beacon = await startBeacon({
      dispatch: { maxFailoverDuration: '300ms', initialBackoff: '50ms' },
      sinks: [
        { name: 'hook', type: 'http', url: destination.url, batch: { maxEvents: 10, maxWaitMs: 10 }, timeoutMs: 1000 },
      ],
      alerts: {
        evaluateEvery: '100ms',
        rules: [{ name: 'hook-down', type: 'sink_down', sink: 'hook', for: '1s', channels: ['chat', 'mail'] }],
        channels: [
          { name: 'chat', type: 'webhook', url: chat.url },
          {
            name: 'mail',
            type: 'email',
            host: 'localhost',
            port: smtp.port,
            ca: certs.rootCa,
            auth: { user: 'beacon', password: 'mail-secret' },
            from: 'beacon@example.com',
            to: ['ops@example.com'],
          },
        ],
      },
    });
  });
  after(async () => {
    await beacon?.stop();
    await Promise.all([destination?.stop(), chat?.stop(), smtp?.stop()]);
    await beacon?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('mails and posts one FIRING when an http sink stays down past `for`, and one RESOLVED when it is back', async () => {
    assert.equal((await fetch(`${beacon.url}/t/pageview?n=1`)).status, 204);
    await destination.waitForIds(1, 10_000);

    await destination.stop();
    const downAt = Date.now();
    assert.equal((await fetch(`${beacon.url}/t/pageview?n=2`)).status, 204);
    await waitUntil('a FIRING webhook and mail', () => alertsIn(chat).length >= 1 && smtp.mails.length >= 1, 15_000);
    assert.ok(Date.now() - downAt >= 1000, 'not before `for`');
    const fired = alertsIn(chat)[0]!;
    assert.equal(fired.status, 'firing');
    assert.equal(fired.rule, 'hook-down');
    assert.equal(fired.instance, 'hook');
    assert.match(fired.text, /^\[beacon\] FIRING hook-down: hook \(backing off \d+s\)$/);
    assert.match(String(fired.values.lastError), /ECONNREFUSED/);
    const mail = smtp.mails[0]!;
    assert.match(mail.headers.subject!, /^\[beacon\] FIRING hook-down: hook \(backing off \d+s\)$/);
    assert.equal(mail.user, 'beacon');
    assert.match(mail.text, /Check that the destination of sink "hook" \(http\) is up and reachable/);
    assert.match(mail.text, /beacon status --url http:\/\/127\.0\.0\.1:\d+/);

    // Ten more evaluation rounds while it stays down: no repeat.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(alertsIn(chat).length, 1);
    assert.equal(smtp.mails.length, 1);
    assert.equal(await metric(beacon, /^beacon_alerts_firing\{rule="hook-down"\}/), 1);

    await destination.start();
    await destination.waitForIds(2, 15_000);
    await waitUntil('a RESOLVED webhook and mail', () => alertsIn(chat).length >= 2 && smtp.mails.length >= 2, 15_000);
    assert.equal(alertsIn(chat)[1]!.status, 'resolved');
    assert.match(
      smtp.mails[1]!.headers.subject!,
      /^\[beacon\] RESOLVED hook-down: hook \((caught up|delivering again)\)$/,
    );
    // The receivers hold a notification before Beacon has its answer and counts it as sent:
    // wait for the counters rather than read them the moment the notification arrives.
    let counted: (number | undefined)[] = [];
    await waitUntil(
      () => `the resolution counted (firing, chat sent, mail sent: ${JSON.stringify(counted)})`,
      async () => {
        counted = [
          await metric(beacon, /^beacon_alerts_firing\{rule="hook-down"\}/),
          await metric(beacon, /^beacon_alert_notifications_total\{channel="chat",result="sent"\}/),
          await metric(beacon, /^beacon_alert_notifications_total\{channel="mail",result="sent"\}/),
        ];
        return counted[0] === 0 && counted[1] === 2 && counted[2] === 2;
      },
    );
    // A repeat would come at the next evaluation rounds (every 100 ms): give it a few.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(alertsIn(chat).length, 2, 'nothing after the resolution');
    assert.equal(smtp.mails.length, 2, 'no mail after the resolution');
    assert.equal(await metric(beacon, /^beacon_alert_notifications_total\{channel="chat",result="sent"\}/), 2);
    assert.equal(await metric(beacon, /^beacon_alert_notifications_total\{channel="mail",result="sent"\}/), 2);
  });
});

describe('alerts in a Beacon with collector processes', () => {
  let chat: HttpReceiver;
  let beacon: BeaconProcess;

  before(async () => {
    chat = await startHttpReceiver({ path: '/chat' });
    beacon = await startBeacon({
      server: { workers: 2 },
      sinks: [{ name: 'archive', type: 'file', path: 'out/events.ndjson' }],
      alerts: {
        evaluateEvery: '200ms',
        rules: [
          { name: 'bad-clients', type: 'http_errors', status: '4xx', perMinute: 30, window: '10s', channels: ['chat'] },
        ],
        channels: [{ name: 'chat', type: 'webhook', url: chat.url }],
      },
    });
  });
  after(async () => {
    await beacon?.stop();
    await chat?.stop();
    await beacon?.cleanup();
  });

  it('sums the refusals counted in every collector process and fires on them, then resolves', async () => {
    // The rule's first round of collector counts is only a baseline (growth before it is not
    // seen): give the engine a few rounds at 200 ms before the refusals, so a slow first round
    // on a loaded machine cannot swallow them.
    await new Promise((r) => setTimeout(r, 2000));
    // Several connections, so both collectors take some of the refusals.
    await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(`${beacon.url}/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', connection: 'close' },
          body: '{not json',
        }).then((r) => assert.equal(r.status, 400)),
      ),
    );
    // A 10 s window, so a loaded machine where a round or two of collector counts time out still fires.
    await waitUntil('a FIRING webhook', () => alertsIn(chat).length >= 1, 30_000);
    assert.match(
      alertsIn(chat)[0]!.text,
      /^\[beacon\] FIRING bad-clients: \d+(\.\d)?\/min HTTP 4xx refusals over 10s \(threshold 30\/min\)$/,
    );
    assert.match(String(alertsIn(chat)[0]!.values.codesSinceStart), /^BEACON_E_BAD_JSON=12$/);
    await waitUntil('a RESOLVED webhook once the window has passed', () => alertsIn(chat).length >= 2, 40_000);
    assert.equal(alertsIn(chat)[1]!.status, 'resolved');
  });
});
