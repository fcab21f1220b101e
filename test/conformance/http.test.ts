import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after } from 'node:test';
import type { AddressInfo } from 'node:net';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { runSinkConformance } from './sink.js';

/**
 * A real HTTP receiver on a fixed free port: it can be down (port closed, so connections are
 * refused), and it answers 400 to a batch holding an event it is told to refuse.
 */
class Receiver {
  received: TrackedEvent[] = [];
  bad: ((e: TrackedEvent) => boolean) | undefined;
  reason = '';
  private server: Server | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      void this.handle(req).then(
        ({ status, body }) => res.writeHead(status, { 'content-type': 'text/plain' }).end(body),
        () => res.writeHead(500).end('receiver error'),
      );
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', () => resolve()));
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const text = body.toString('utf8');
    const events = (req.headers['content-type'] === 'application/json' ? JSON.parse(text) : text.split('\n').filter(Boolean).map((l) => JSON.parse(l))) as TrackedEvent[];
    const bad = this.bad && events.find(this.bad);
    if (bad) return { status: 400, body: `${this.reason}: ${bad.id}` };
    this.received.push(...events);
    return { status: 200, body: 'ok' };
  }
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

for (const variant of [
  { label: 'http (json array)', extra: { format: 'json' } },
  { label: 'http (ndjson, gzip)', extra: { format: 'ndjson', gzip: true } },
]) {
  const receiver = new Receiver(await freePort());
  after(() => receiver.stop());
  runSinkConformance(variant.label, {
    ordered: true,
    config: () => ({ type: 'http', url: `http://127.0.0.1:${receiver.port}/ingest`, timeoutMs: 2000, headers: { authorization: 'Bearer test' }, ...variant.extra }),
    start: () => receiver.start(),
    stop: () => receiver.stop(),
    reset: async () => {
      receiver.received = [];
      receiver.bad = undefined;
    },
    readBack: async () => receiver.received,
    rejectWhere: (bad, reason) => {
      receiver.bad = bad;
      receiver.reason = reason;
    },
  });
}
