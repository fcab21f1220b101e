/**
 * The http sink's destination in the dispatch scenario, run in its own process:
 *   node --import tsx bench/receiver.ts
 * Reads each request body whole, counts the NDJSON lines (or JSON array items), answers 200 —
 * or 503 while "held" (the bench holds it while it pre-fills Beacon's log). Prints
 * `RECEIVER_PORT <port>` once listening. Control: POST /_bench/hold, /_bench/release,
 * GET /_bench/stats → { requests, bytes, events, held }. `RECEIVER_DELAY_MS` (default 0)
 * answers each delivery that long after its body arrived, as a remote endpoint's round trip
 * would: with an instant answer on 2 shared cores, batches in flight at once cannot show.
 */
import { createServer } from 'node:http';

let held = process.argv.includes('--hold');
const delayMs = Number(process.env.RECEIVER_DELAY_MS ?? 0);
let requests = 0;
let bytes = 0;
let events = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = req.url ?? '/';
    if (url.startsWith('/_bench/')) {
      if (url === '/_bench/hold') held = true;
      if (url === '/_bench/release') held = false;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requests, bytes, events, held }));
      return;
    }
    if (held) {
      res.writeHead(503, { 'retry-after': '1' });
      res.end();
      return;
    }
    const body = Buffer.concat(chunks);
    requests++;
    bytes += body.length;
    const first = body.indexOf(0x5b) === 0; // '[' → JSON array
    if (first) {
      try {
        events += (JSON.parse(body.toString('utf8')) as unknown[]).length;
      } catch {
        /* not ours to judge */
      }
    } else {
      let n = 0;
      for (let i = 0; i < body.length; i++) if (body[i] === 0x0a) n++;
      if (body.length > 0 && body[body.length - 1] !== 0x0a) n++;
      events += n;
    }
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.RECEIVER_PORT ?? 0), '127.0.0.1', () => {
  const addr = server.address();
  console.log(`RECEIVER_PORT ${typeof addr === 'object' && addr ? addr.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
// Bounded lifetime: never outlive a bench run by much, even if the parent dies.
setTimeout(() => process.exit(0), Number(process.env.RECEIVER_MAX_SECONDS ?? 900) * 1000).unref();
process.on('disconnect', () => process.exit(0));
