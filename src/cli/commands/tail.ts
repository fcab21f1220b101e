import type { Command } from 'commander';
import WebSocket from 'ws';
import { BeaconError } from '../../errors/beaconError.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { DEFAULT_URL, tokenHeaders } from '../client.js';

type LiveMessage = { kind: 'ready' } | { kind: 'event'; event: TrackedEvent } | { kind: 'dropped'; count: number };

interface TailOptions {
  url: string;
  type?: string;
  where?: string;
  format: string;
  count?: string;
  sample?: string;
  maxRate?: string;
}

/** The `/live` URL for these options: http(s) becomes ws(s), filters go in the query string. */
export function liveUrl(base: string, opts: Omit<TailOptions, 'url' | 'format' | 'count'>): URL {
  const url = new URL('/live', base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (opts.type) url.searchParams.set('type', opts.type);
  if (opts.where) url.searchParams.set('where', opts.where);
  if (opts.sample) url.searchParams.set('sample', opts.sample);
  if (opts.maxRate) url.searchParams.set('maxRate', opts.maxRate);
  return url;
}

export function registerTail(program: Command): void {
  program
    .command('tail')
    .description('follow new events as a running Beacon makes them durable (over the /live WebSocket)')
    .option('--url <url>', 'Beacon to follow', DEFAULT_URL)
    .option('--type <types>', 'only these event types (comma-separated)')
    .option('--where <k=v>', 'only events whose props match (comma-separated k=v)')
    .option('--format <format>', 'json (one event per line) or line (type and props)', 'json')
    .option('--count <n>', 'stop after n events')
    .option('--sample <n>', 'show 1 in n matching events')
    .option('--max-rate <m>', 'show at most m events per second')
    .addHelpText(
      'after',
      '\nExamples:\n  beacon tail\n  beacon tail --type pageview,signup --where plan=pro --format line',
    )
    .action(async (opts: TailOptions) => {
      if (opts.format !== 'json' && opts.format !== 'line')
        throw new Error(`--format must be json or line, not "${opts.format}"`);
      const limit = opts.count ? Number(opts.count) : Infinity;
      if (!(limit >= 1)) throw new Error(`--count must be a number of at least 1, not "${opts.count}"`);
      await follow(opts, limit);
    });
}

function follow(opts: TailOptions, limit: number): Promise<void> {
  const url = liveUrl(opts.url, opts);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: tokenHeaders() });
    let shown = 0;
    let opened = false;
    ws.on('open', () => (opened = true));
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as LiveMessage;
      if (msg.kind === 'ready') {
        process.stderr.write(`following ${opts.url} (Ctrl-C to stop)\n`);
      } else if (msg.kind === 'dropped') {
        process.stderr.write(`(${msg.count} events went by faster than tail could show them)\n`);
      } else if (msg.kind === 'event' && shown < limit) {
        shown++;
        const e = msg.event;
        process.stdout.write(
          (opts.format === 'json'
            ? JSON.stringify(e)
            : `${new Date(e.ts).toISOString()} ${e.type} ${JSON.stringify(e.props)}`) + '\n',
        );
        if (shown >= limit) ws.close(1000);
      }
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (shown >= limit || code === 1000) resolve();
      else
        reject(new Error(`Beacon closed the stream (${code}${reason.length ? `: ${reason.toString('utf8')}` : ''})`));
    });
    // A refusal before the handshake (an unknown Host, a foreign Origin) is an HTTP answer with a coded body.
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d.slice(0, 4096)));
      res.on('end', () => {
        ws.terminate();
        reject(new Error(`Beacon refused the stream (${res.statusCode ?? '?'}: ${body || 'no reason given'})`));
      });
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (opened) return; // 'close' follows and says why
      ws.terminate();
      reject(
        new BeaconError(
          'BEACON_E_NOT_RUNNING',
          `no Beacon answering at ${opts.url} (${err.code ?? err.message})`,
          { url: opts.url },
          { cause: err },
        ),
      );
    });
  });
}
