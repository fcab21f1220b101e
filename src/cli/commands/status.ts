import type { Command } from 'commander';
import { callBeacon, DEFAULT_URL, expectOk } from '../client.js';
import { formatBytes } from '../../ops/byteUnits.js';
import { formatCount, formatDuration, renderTable } from '../table.js';

interface StatusBody {
  version: string;
  uptimeSeconds: number;
  log: { bytes: number; maxBytes: number; ratio: number };
  /** The compatible protocols that are on (segment, posthog, ...); absent from older Beacons. */
  protocols?: string[];
  sinks: {
    name: string;
    type: string;
    state: string;
    lagEvents: number;
    lagSeconds: number;
    delivered: number;
    deadLettered: number;
    lastError?: { message: string; kind: string; at: number };
  }[];
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show each sink of a running Beacon: state, lag, delivered, dead-lettered')
    .option('--url <url>', 'Beacon to ask', DEFAULT_URL)
    .option('--json', 'print the raw JSON instead of a table')
    .addHelpText('after', '\nExamples:\n  beacon status\n  beacon status --url http://collector-1:8290 --json')
    .action(async (opts: { url: string; json?: boolean }) => {
      const body = expectOk(await callBeacon<StatusBody>(opts.url, '/api/v1/status'), 'status');
      if (opts.json) {
        console.log(JSON.stringify(body, null, 2));
        return;
      }
      console.log(
        `Beacon ${body.version} at ${opts.url}, up ${formatDuration(body.uptimeSeconds)}; log ${formatBytes(body.log.bytes)} of ${formatBytes(body.log.maxBytes)} (${(body.log.ratio * 100).toFixed(1)}%)`,
      );
      if (body.protocols !== undefined)
        console.log(
          `Protocols on: ${body.protocols.length > 0 ? body.protocols.join(', ') : "none (only Beacon's own endpoints)"}`,
        );
      console.log('');
      if (body.sinks.length === 0) {
        console.log('No sinks configured: events are kept in the log only. Add one under `sinks:` in your config.');
        return;
      }
      console.log(
        renderTable(
          ['SINK', 'TYPE', 'STATE', 'LAG', 'LAG AGE', 'DELIVERED', 'DEAD-LETTERED', 'LAST ERROR'],
          body.sinks.map((s) => [
            s.name,
            s.type,
            s.state,
            formatCount(s.lagEvents),
            formatDuration(s.lagSeconds),
            formatCount(s.delivered),
            formatCount(s.deadLettered),
            s.lastError ? `${s.lastError.kind}: ${s.lastError.message}`.slice(0, 80) : '-',
          ]),
        ),
      );
    });
}
