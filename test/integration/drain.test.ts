import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * What a proxy in front of Beacon relies on when a collector is stopped (SIGTERM), on the real
 * process: the listening socket closes at once (a proxy's next connection is refused and goes
 * to another collector), idle keep-alive connections are closed (so the proxy does not reuse
 * them), a request already in flight is answered, with `Connection: close`, and its events
 * are durable; then the process exits 0.
 */

function open(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

describe('graceful drain of a Beacon process on SIGTERM', { timeout: 120_000 }, () => {
  let beacon: BeaconProcess;
  let outPath: string;

  before(async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'beacon-drain-'));
    outPath = join(dataDir, 'out', 'events.ndjson');
    beacon = await startBeacon(
      { store: { type: 'none' }, sinks: [{ name: 'archive', type: 'file', path: outPath }] },
      { dataDir },
    );
  });

  after(async () => {
    await beacon.stop();
    await beacon.cleanup();
  });

  it('refuses new connections, closes idle ones, answers the request in flight with Connection: close, and exits 0', async () => {
    const idle = await open(beacon.port);
    idle.socket.write('GET /t/idle_before_stop HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitUntil('the idle connection answered', () => /^HTTP\/1\.1 204 /.test(idle.received()));

    const body = JSON.stringify([
      { type: 'in_flight', id: `in-flight-${Date.now()}`, props: { pad: 'x'.repeat(200) } },
    ]);
    const half = Math.floor(body.length / 2);
    const inFlight = await open(beacon.port);
    // `Expect: 100-continue` makes the server say when it has parsed the request: from then on
    // it is in flight. (A fixed pause could end before a loaded server read the headers, and a
    // SIGTERM then found an idle connection and closed it.)
    inFlight.socket.write(
      `POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n${body.slice(0, half)}`,
    );
    await waitUntil(
      () => `the server to take the request (received so far: ${JSON.stringify(inFlight.received())})`,
      () => /^HTTP\/1\.1 100 Continue\r\n\r\n/.test(inFlight.received()),
    );

    const exited = new Promise<number | null>((r) => beacon.child.once('exit', (code) => r(code)));
    beacon.child.kill('SIGTERM');
    await Promise.race([
      idle.closed,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the idle keep-alive connection was not closed within 5 s')), 5000),
      ),
    ]);
    await waitUntil(
      'new connections refused',
      () =>
        open(beacon.port).then(
          (c) => (c.socket.destroy(), false),
          (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
        ),
      5000,
      50,
    );
    assert.equal(beacon.child.exitCode, null, 'still running while a request is in flight');

    inFlight.socket.write(body.slice(half));
    await inFlight.closed;
    const answer = inFlight.received().replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.match(answer, /"accepted":1/);
    assert.equal(await exited, 0);

    await beacon.restart();
    const id = (JSON.parse(body) as { id: string }[])[0]!.id;
    await waitUntil(
      'the in-flight event delivered',
      async () => (await readFile(outPath, 'utf8').catch(() => '')).includes(id),
      30_000,
      100,
    );
  });
});
