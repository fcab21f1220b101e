import type { Command } from 'commander';
import { callBeacon, DEFAULT_URL, expectOk } from '../client.js';
import { formatCount } from '../table.js';

interface StatusBody {
  sinks: { name: string; lagEvents: number; delivered: number; deadLettered: number }[];
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description("re-deliver a sink's dead letters, or re-read the log from a point, on a running Beacon")
    .requiredOption('--sink <name>', 'sink to replay to')
    .option('--dead-letter', "re-deliver the sink's dead-letter file (the default)")
    .option('--from-start', 'rewind the sink to the start of the retained log')
    .option('--from-time <time>', 'rewind the sink to the first event received at or after this time (ISO 8601)')
    .option('--from-position <json>', 'rewind the sink to a log position, e.g. \'{"p0":1200}\'')
    .option('--no-wait', 'return at once instead of showing progress until the sink caught up')
    .option('--url <url>', 'Beacon to ask', DEFAULT_URL)
    .addHelpText(
      'after',
      '\nExamples:\n  beacon replay --sink hook                      # dead letters back through the sink\n  beacon replay --sink archive --from-time 2026-11-24T09:00:00Z\n  beacon replay --sink archive --from-start --no-wait',
    )
    .action(
      async (opts: {
        sink: string;
        deadLetter?: boolean;
        fromStart?: boolean;
        fromTime?: string;
        fromPosition?: string;
        wait: boolean;
        url: string;
      }) => {
        const chosen = [opts.deadLetter, opts.fromStart, opts.fromTime, opts.fromPosition].filter(Boolean).length;
        if (chosen > 1) throw new Error('choose one of --dead-letter, --from-start, --from-time, --from-position');
        let body: Record<string, unknown> = { from: 'dead-letter' };
        if (opts.fromStart) body = { from: 'start' };
        if (opts.fromTime) body = { from: 'time', time: opts.fromTime };
        if (opts.fromPosition) body = { from: 'position', position: JSON.parse(opts.fromPosition) as unknown };
        const result = expectOk(
          await callBeacon<{
            replayed?: number;
            delivered?: number;
            deadLettered?: number;
            unreadable?: number;
            pending?: number;
          }>(opts.url, `/api/v1/sinks/${encodeURIComponent(opts.sink)}/replay`, {
            method: 'POST',
            body: JSON.stringify(body),
            headers: { 'content-type': 'application/json' },
            timeoutMs: 600_000,
          }),
          'replay',
        );
        if (result.replayed !== undefined) {
          console.log(
            `${opts.sink}: ${formatCount(result.replayed)} dead letters replayed: ${formatCount(result.delivered ?? 0)} delivered, ` +
              `${formatCount(result.deadLettered ?? 0)} rejected again (still in the dead letter)` +
              (result.unreadable ? `, ${formatCount(result.unreadable)} unreadable lines kept` : ''),
          );
          return;
        }
        console.log(
          `${opts.sink}: cursor moved (${String(body.from)}); ${formatCount(result.pending ?? 0)} events to re-deliver`,
        );
        if (!opts.wait) return;
        await showProgress(opts.url, opts.sink, result.pending ?? 0);
      },
    );
}

/**
 * Polls the sink's lag until it reaches zero, on one updating line. The total is what the
 * replay answered (`pending`), not the first poll's lag: a fast sink may be done before it.
 */
async function showProgress(url: string, sink: string, pending: number): Promise<void> {
  const status = async () =>
    expectOk(await callBeacon<StatusBody>(url, '/api/v1/status'), 'status').sinks.find((s) => s.name === sink);
  const first = await status();
  if (!first) return;
  const total = Math.max(pending, first.lagEvents, 1);
  for (;;) {
    const s = await status();
    if (!s) return;
    const done = Math.max(0, total - s.lagEvents);
    const line = `${sink}: ${formatCount(done)}/${formatCount(total)} delivered (${Math.floor((done / total) * 100)}%), ${formatCount(s.deadLettered)} dead-lettered`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
    if (s.lagEvents === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
}
