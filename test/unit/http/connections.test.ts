import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { delay, postJson, rejectedCount, startCollector, type Answer } from './harness.js';

/** A raw client connection that collects everything the server sends and notes when it closes. */
function rawConnection(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const opened = Date.now();
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const closed = new Promise<number>((done) => socket.on('close', () => done(Date.now() - opened)));
    socket.on('error', () => undefined);
    socket.on('connect', () => resolve({ socket, received: () => text, closed }));
    socket.on('error', reject);
  });
}

describe('connections', () => {
  test('it keeps connections alive and reuses them', async () => {
    const collector = await startCollector();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const answers: Answer[] = [];
      for (let i = 0; i < 5; i++) answers.push(await collector.send({ path: `/t/view?i=${i}`, agent }));
      answers.push(await collector.send({ method: 'POST', path: '/batch', body: '[{"type":"a"}]', agent }));
      assert.ok(answers.every((a) => a.status < 300));
      assert.equal(answers[0]!.reusedSocket, false);
      assert.ok(
        answers.slice(1).every((a) => a.reusedSocket),
        'every later request reused the first connection',
      );
      assert.equal(new Set(answers.map((a) => a.localPort)).size, 1);
      assert.equal(answers[0]!.headers.connection, 'keep-alive');
    } finally {
      agent.destroy();
      await collector.close();
    }
  });

  test('it cuts off a client that trickles its body slower than requestTimeoutMs with 408', async () => {
    const collector = await startCollector({ overrides: { requestTimeoutMs: 600, headersTimeoutMs: 600 } });
    try {
      const client = await rawConnection(collector.port);
      client.socket.write(
        'POST /t/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
      );
      const trickle = setInterval(() => client.socket.write(' '), 50);
      const closedAfter = await client.closed;
      clearInterval(trickle);
      assert.ok(closedAfter < 3000, `cut after ${closedAfter} ms`);
      assert.match(client.received(), /^HTTP\/1\.1 408 /);
      assert.match(client.received(), /"code":"BEACON_E_REQUEST_TIMEOUT"/);
      assert.equal(collector.recorder.calls.length, 0);
      assert.equal(await rejectedCount(collector, 'BEACON_E_REQUEST_TIMEOUT'), 1);
    } finally {
      await collector.close();
    }
  });

  test('it cuts off a client that trickles its headers slower than headersTimeoutMs', async () => {
    const collector = await startCollector({ overrides: { requestTimeoutMs: 5000, headersTimeoutMs: 500 } });
    try {
      const client = await rawConnection(collector.port);
      client.socket.write('GET /t/slow HTTP/1.1\r\n');
      const trickle = setInterval(() => client.socket.write('X-A: b\r\n'), 50);
      const closedAfter = await client.closed;
      clearInterval(trickle);
      assert.ok(closedAfter < 2500, `cut after ${closedAfter} ms`);
      assert.match(client.received(), /^HTTP\/1\.1 408 /);
    } finally {
      await collector.close();
    }
  });

  test('it closes every connection after its answer when keepAliveTimeoutMs is 0', async () => {
    const collector = await startCollector({ server: { keepAliveTimeoutMs: 0 } });
    try {
      const answer = await collector.send({ path: '/t/view' });
      assert.equal(answer.headers.connection, 'close');
    } finally {
      await collector.close();
    }
  });

  test('it answers 400 to a malformed request line and keeps serving', async () => {
    const collector = await startCollector();
    try {
      const client = await rawConnection(collector.port);
      client.socket.write('NOT HTTP AT ALL\r\n\r\n');
      await client.closed;
      assert.match(client.received(), /^HTTP\/1\.1 400 /);
      assert.equal((await collector.send({ path: '/t/view' })).status, 204);
    } finally {
      await collector.close();
    }
  });
});

describe('drain', () => {
  test('it lets in-flight requests finish, answers them with Connection: close, and refuses new connections', async () => {
    const collector = await startCollector();
    collector.recorder.hold();
    const inFlight = [collector.send({ path: '/t/view' }), postJson(collector, '/batch', [{ type: 'a' }])];
    await collector.recorder.waitForPending(2);

    let drained = false;
    const draining = collector.http.drain(5000).then((result) => {
      drained = true;
      return result;
    });
    await delay(50);
    assert.equal(drained, false, 'drain waits for in-flight requests');
    await assert.rejects(collector.send({ path: '/t/view' }), /ECONNREFUSED/);

    collector.recorder.release();
    const answers = await Promise.all(inFlight);
    assert.deepEqual(
      answers.map((a) => a.status),
      [204, 200],
    );
    assert.ok(answers.every((a) => a.headers.connection === 'close'));
    assert.deepEqual(await draining, { timedOut: false });
    assert.equal(collector.recorder.durable.length, 2);
  });

  test('it closes idle keep-alive connections and answers a request arriving during the drain with Connection: close', async () => {
    const collector = await startCollector();
    const idle = await rawConnection(collector.port);
    const arriving = await rawConnection(collector.port);
    try {
      idle.socket.write('GET /t/view HTTP/1.1\r\nHost: x\r\n\r\n');
      // A keep-alive connection that already served one request and is halfway through the next.
      arriving.socket.write('GET /t/view?n=1 HTTP/1.1\r\nHost: x\r\n\r\n');
      await delay(50);
      assert.match(idle.received(), /^HTTP\/1\.1 204 /);
      assert.match(arriving.received(), /^HTTP\/1\.1 204 /);
      assert.doesNotMatch(arriving.received(), /connection: close/i);
      arriving.socket.write('GET /t/view?n=2 HTTP/1.1\r\nHo');
      await delay(50);

      const draining = collector.http.drain(5000);
      await idle.closed;
      arriving.socket.write('st: x\r\n\r\n');
      await arriving.closed;
      const answers = arriving
        .received()
        .split('HTTP/1.1 ')
        .filter((s) => s.length > 0);
      assert.equal(answers.length, 2, arriving.received());
      assert.match(answers[1]!, /^204 /);
      assert.match(answers[1]!, /connection: close/i);
      assert.deepEqual(await draining, { timedOut: false });
      assert.deepEqual(
        collector.recorder.durable.map((e) => e.props.n),
        [undefined, '1', '2'],
      );
    } finally {
      idle.socket.destroy();
      arriving.socket.destroy();
    }
  });

  test('it resolves at the deadline with timedOut when a request does not finish', async () => {
    const collector = await startCollector();
    collector.recorder.hold();
    const stuck = collector.send({ path: '/t/view' }).catch((err: Error) => err);
    await collector.recorder.waitForPending(1);
    const started = Date.now();
    assert.deepEqual(await collector.http.drain(200), { timedOut: true });
    assert.ok(Date.now() - started < 1000);
    assert.ok((await stuck) instanceof Error, 'the stuck request was cut');
    collector.recorder.release();
  });
});
