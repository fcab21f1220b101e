import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after } from 'node:test';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { freePort } from '../support/freePort.js';
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
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(this.port, '127.0.0.1', () => resolve()),
    );
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
    const events = (
      req.headers['content-type'] === 'application/json'
        ? JSON.parse(text)
        : text
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
    ) as TrackedEvent[];
    const bad = this.bad && events.find(this.bad);
    if (bad) return { status: 400, body: `${this.reason}: ${bad.id}` };
    this.received.push(...events);
    return { status: 200, body: 'ok' };
  }
}

// One batch at a time keeps log order at the receiver; several in flight (the http default) do not.
for (const variant of [
  { label: 'http (json array)', ordered: true, extra: { format: 'json', batch: { inFlight: 1 } } },
  { label: 'http (ndjson, gzip)', ordered: true, extra: { format: 'ndjson', gzip: true, batch: { inFlight: 1 } } },
  { label: 'http (json array, 4 in flight)', ordered: false, extra: { format: 'json', batch: { inFlight: 4 } } },
]) {
  const receiver = new Receiver(await freePort());
  after(() => receiver.stop());
  runSinkConformance(variant.label, {
    ordered: variant.ordered,
    config: () => ({
      type: 'http',
      url: `http://127.0.0.1:${receiver.port}/ingest`,
      timeoutMs: 2000,
      headers: { authorization: 'Bearer test' },
      ...variant.extra,
    }),
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
