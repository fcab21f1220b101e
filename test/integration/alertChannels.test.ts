import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelError } from '../../src/alerts/channels/channel.js';
import { emailChannel, emailChannelSchema } from '../../src/alerts/channels/email/index.js';
import { webhookChannel, webhookChannelSchema } from '../../src/alerts/channels/webhook/index.js';
import type { AlertNotification } from '../../src/alerts/notification.js';
import { silentLogger } from '../../src/ops/logger.js';
import { freePort } from '../support/freePort.js';
import { startHttpReceiver, type HttpReceiver } from '../support/httpReceiver.js';
import { startSmtpReceiver, type SmtpReceiver } from '../support/smtpReceiver.js';
import { makeTestCertificates, type TestCertificates } from '../support/tlsCerts.js';

const firedAt = Date.UTC(2026, 10, 24, 9, 5, 0);
const firing: AlertNotification = {
  status: 'firing',
  reminder: false,
  episode: `hook-down/hook/${firedAt}`,
  rule: 'hook-down',
  type: 'sink_down',
  instance: 'hook',
  summary: 'hook (backing off 5m)',
  since: firedAt - 5 * 60_000,
  firedAt,
  at: firedAt,
  values: { sink: 'hook', state: 'backing_off', lagEvents: 1234, lastError: 'connect ECONNREFUSED 10.0.0.7:443' },
  hint: 'Check that the destination of sink "hook" (http) is up and reachable.\nSee every sink\'s state and lag: beacon status',
  forMs: 5 * 60_000,
  renotifyAfterMs: 3_600_000,
  beacon: { version: '0.1.0', host: 'collector-1', url: 'http://127.0.0.1:8290' },
};
const resolved: AlertNotification = {
  ...firing,
  status: 'resolved',
  summary: 'hook (caught up)',
  resolvedAt: firedAt + 7 * 60_000,
  at: firedAt + 7 * 60_000,
  values: { sink: 'hook', state: 'idle', lagEvents: 0 },
  hint: 'Nothing to do: the sink has caught up.',
};

function email(smtp: SmtpReceiver, certs: TestCertificates, extra: Record<string, unknown> = {}) {
  const config = emailChannelSchema.parse({
    name: 'ops',
    type: 'email',
    host: 'localhost',
    port: smtp.port,
    ca: certs.rootCa,
    auth: { user: 'beacon', password: 'correct horse' },
    from: 'Beacon <beacon@example.com>',
    to: ['ops@example.com', 'oncall@example.com'],
    timeout: '5s',
    ...extra,
  });
  return emailChannel.create(config, { logger: silentLogger });
}

async function sendError(send: Promise<void>): Promise<ChannelError> {
  try {
    await send;
  } catch (err) {
    assert.ok(err instanceof ChannelError, `expected a ChannelError, got ${String(err)}`);
    return err;
  }
  assert.fail('the message was sent');
}

describe('the email channel, against a real SMTP server', () => {
  let dir: string;
  let certs: TestCertificates;
  let smtp: SmtpReceiver;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'beacon-smtp-'));
    certs = await makeTestCertificates(dir);
    smtp = await startSmtpReceiver({ cert: certs.chain, key: certs.key, user: 'beacon', password: 'correct horse' });
  });
  after(async () => {
    await smtp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('mails a firing alert over STARTTLS with AUTH: subject, sender, recipients and a body that says what to do', async () => {
    const channel = email(smtp, certs);
    await channel.send(firing);
    await channel.close();
    const mail = smtp.mails.at(-1)!;
    assert.equal(mail.secure, true, 'upgraded with STARTTLS before AUTH');
    assert.equal(mail.user, 'beacon');
    assert.deepEqual(mail.envelope, { from: 'beacon@example.com', to: ['ops@example.com', 'oncall@example.com'] });
    assert.equal(mail.headers.subject, '[beacon] FIRING hook-down: hook (backing off 5m)');
    assert.equal(mail.headers.from, 'Beacon <beacon@example.com>');
    assert.equal(mail.headers.to, 'ops@example.com, oncall@example.com');
    assert.equal(mail.headers['x-beacon-alert'], 'firing');
    assert.match(mail.headers['content-type']!, /^text\/plain/);
    assert.match(mail.text, /^FIRING: hook-down \(sink_down\)\.\nhook \(backing off 5m\)\n/);
    assert.match(
      mail.text,
      /\nSince: +2026-11-24T09:00:00\.000Z \(5m before this message\)\nFired at: +2026-11-24T09:05:00\.000Z\n/,
    );
    assert.match(mail.text, /lagEvents: +1234/);
    assert.match(mail.text, /lastError: +connect ECONNREFUSED 10\.0\.0\.7:443/);
    assert.match(
      mail.text,
      /What to do next:\n {2}Check that the destination of sink "hook" \(http\) is up and reachable\.\n {2}See every sink's state and lag: beacon status\n/,
    );
    assert.match(mail.text, /Sent again every 1h while it fires, and once when it resolves\./);
  });

  it('mails the resolution in the same thread', async () => {
    const channel = email(smtp, certs, { subjectPrefix: '[beacon prod]' });
    await channel.send(firing);
    await channel.send(resolved);
    await channel.close();
    const [first, second] = smtp.mails.slice(-2);
    assert.equal(second!.headers.subject, '[beacon prod] RESOLVED hook-down: hook (caught up)');
    assert.match(second!.text, /^RESOLVED: hook-down \(sink_down\) after firing for 7m\./);
    assert.match(second!.text, /Resolved at: +2026-11-24T09:12:00\.000Z/);
    assert.equal(second!.headers['in-reply-to'], first!.headers['message-id']);
  });

  it('refuses a wrong password as a permanent failure (not retried)', async () => {
    const channel = email(smtp, certs, { auth: { user: 'beacon', password: 'wrong' } });
    const err = await sendError(channel.send(firing));
    await channel.close();
    assert.equal(err.permanent, true);
    assert.match(err.message, /535/);
  });

  it('treats a 4xx reply as transient and a 5xx reply as permanent', async () => {
    const channel = email(smtp, certs);
    smtp.failNext(1, 451, 'try again later');
    assert.equal((await sendError(channel.send(firing))).permanent, false);
    smtp.failNext(1, 554, 'rejected');
    assert.equal((await sendError(channel.send(firing))).permanent, true);
    await channel.close();
  });

  it('does not send a password to a server that does not offer STARTTLS', async () => {
    const plain = await startSmtpReceiver({ user: 'beacon', password: 'correct horse', hideStartTls: true });
    try {
      const channel = email(plain, certs);
      const err = await sendError(channel.send(firing));
      await channel.close();
      assert.match(err.message, /STARTTLS|TLS/i);
      assert.equal(plain.mails.length, 0);
    } finally {
      await plain.stop();
    }
  });

  it('speaks TLS from the first byte with secure: true', async () => {
    const smtps = await startSmtpReceiver({ cert: certs.chain, key: certs.key, secure: true });
    try {
      const channel = email(smtps, certs, { secure: true, auth: undefined });
      await channel.send(firing);
      await channel.close();
      assert.equal(smtps.mails.length, 1);
      assert.equal(smtps.mails[0]!.secure, true);
    } finally {
      await smtps.stop();
    }
  });

  it('refuses a server whose certificate it cannot verify', async () => {
    const channel = email(smtp, certs, { ca: undefined });
    const err = await sendError(channel.send(firing));
    await channel.close();
    assert.match(err.message, /certificate/i);
  });
});

describe('the webhook channel', () => {
  let receiver: HttpReceiver;
  before(async () => (receiver = await startHttpReceiver({ path: '/alerts' })));
  after(() => receiver.stop());

  const channel = (extra: Record<string, unknown> = {}) =>
    webhookChannel.create(
      webhookChannelSchema.parse({
        name: 'chat',
        type: 'webhook',
        url: receiver.url,
        headers: { Authorization: 'Bearer t0ken' },
        ...extra,
      }),
      { logger: silentLogger },
    );

  it('POSTs the documented JSON: a chat-ready text line and the fields for programs', async () => {
    await channel().send(firing);
    const body = receiver.events.at(-1) as unknown as Record<string, unknown>;
    assert.equal(body.text, '[beacon] FIRING hook-down: hook (backing off 5m)');
    assert.equal(body.status, 'firing');
    assert.equal(body.reminder, false);
    assert.equal(body.rule, 'hook-down');
    assert.equal(body.type, 'sink_down');
    assert.equal(body.instance, 'hook');
    assert.equal(body.since, '2026-11-24T09:00:00.000Z');
    assert.equal(body.firedAt, '2026-11-24T09:05:00.000Z');
    assert.equal(body.resolvedAt, null);
    assert.deepEqual(body.values, firing.values);
    assert.match(String(body.body), /What to do next:/);
    assert.deepEqual(body.beacon, firing.beacon);
  });

  it('sends its configured headers', async () => {
    const seen: Record<string, string | undefined> = {};
    const { createServer: createHttp } = await import('node:http');
    const port = await freePort();
    const srv = createHttp((req, res) => {
      seen.authorization = req.headers.authorization;
      seen.type = req.headers['content-type'];
      req.resume().on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
    try {
      await webhookChannel
        .create(
          webhookChannelSchema.parse({
            name: 'c',
            type: 'webhook',
            url: `http://127.0.0.1:${port}/x`,
            headers: { Authorization: 'Bearer t0ken' },
          }),
          { logger: silentLogger },
        )
        .send(resolved);
      assert.deepEqual(seen, { authorization: 'Bearer t0ken', type: 'application/json; charset=utf-8' });
    } finally {
      srv.close();
    }
  });

  it('treats 4xx as permanent, 429 and 5xx as transient, and names only the host in errors', async () => {
    receiver.setMode({ kind: 'fail', status: 400 });
    const bad = await sendError(channel().send(firing));
    assert.equal(bad.permanent, true);
    assert.match(bad.message, /^POST to http:\/\/127\.0\.0\.1:\d+ answered 400/);
    assert.doesNotMatch(bad.message, /\/alerts/);
    receiver.setMode({ kind: 'fail', status: 429 });
    assert.equal((await sendError(channel().send(firing))).permanent, false);
    receiver.setMode({ kind: 'fail', status: 503 });
    assert.equal((await sendError(channel().send(firing))).permanent, false);
    receiver.setMode({ kind: 'ok' });
  });

  it('gives up an attempt after its timeout', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    const port = await freePort();
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', () => r()));
    try {
      const started = Date.now();
      const err = await sendError(
        webhookChannel
          .create(
            webhookChannelSchema.parse({
              name: 'c',
              type: 'webhook',
              url: `http://127.0.0.1:${port}/x`,
              timeout: '300ms',
            }),
            { logger: silentLogger },
          )
          .send(firing),
      );
      assert.equal(err.permanent, false);
      assert.match(err.message, /no answer within 300 ms/);
      assert.ok(Date.now() - started < 3000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
