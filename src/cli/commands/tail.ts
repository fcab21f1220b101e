import type { Command } from 'commander';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { callBeacon, DEFAULT_URL, expectOk } from '../client.js';

interface TailBody {
  events: TrackedEvent[];
  next: number;
  missed: number;
}

export function registerTail(program: Command): void {
  program
    .command('tail')
    .description('follow new events as a running Beacon makes them durable')
    .option('--url <url>', 'Beacon to follow', DEFAULT_URL)
    .option('--type <types>', 'only these event types (comma-separated)')
    .option('--where <k=v>', 'only events whose props match (comma-separated k=v)')
    .option('--format <format>', 'json (one event per line) or line (type and props)', 'json')
    .option('--count <n>', 'stop after n events')
    .addHelpText('after', '\nExamples:\n  beacon tail\n  beacon tail --type pageview,signup --where plan=pro --format line')
    .action(async (opts: { url: string; type?: string; where?: string; format: string; count?: string }) => {
      if (opts.format !== 'json' && opts.format !== 'line') throw new Error(`--format must be json or line, not "${opts.format}"`);
      const limit = opts.count ? Number(opts.count) : Infinity;
      let since: number | undefined;
      let shown = 0;
      process.stderr.write(`following ${opts.url} (Ctrl-C to stop)\n`);
      while (shown < limit) {
        const q = new URLSearchParams({ waitMs: '10000' });
        if (since !== undefined) q.set('since', String(since));
        if (opts.type) q.set('type', opts.type);
        if (opts.where) q.set('where', opts.where);
        const page = expectOk(await callBeacon<TailBody>(opts.url, `/api/v1/tail?${q}`, { timeoutMs: 20_000 }), 'tail');
        if (page.missed > 0) process.stderr.write(`(${page.missed} events went by faster than tail could show them)\n`);
        for (const e of page.events) {
          if (shown++ >= limit) break;
          console.log(opts.format === 'json' ? JSON.stringify(e) : `${new Date(e.ts).toISOString()} ${e.type} ${JSON.stringify(e.props)}`);
        }
        since = page.next;
      }
    });
}
