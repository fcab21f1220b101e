import type { Command } from 'commander';
import { BeaconError } from '../../errors/beaconError.js';
import { ERROR_CODES, type ErrorCode } from '../../errors/codes.js';
import type { ReloadOutcome } from '../../reload/reloader.js';
import { callBeacon, DEFAULT_URL } from '../client.js';

/**
 * Above what a reload may take: fetching a URL config (at most 20 s with retries) plus
 * stopping removed and changed sinks (at most dispatch.shutdownTimeout, 10 s by default).
 */
const RELOAD_TIMEOUT_MS = 60_000;

export function registerReload(program: Command): void {
  program
    .command('reload')
    .description('make a running Beacon re-read its config (path or URL) and apply the sink changes, as SIGHUP does')
    .option('--url <url>', 'Beacon to ask', DEFAULT_URL)
    .option('--json', 'print the raw JSON answer')
    .addHelpText(
      'after',
      '\nSinks added start at the end of the log, removed ones stop after their batch in flight, changed ones restart from their cursor.\nOther changes (server, log, workers...) apply at the next start; they are listed and the running values kept.\nAn invalid config is refused: Beacon keeps the running one, and this command prints why and exits 1.\nNeeds an admin token in BEACON_TOKEN when api.tokens is set.\n\nExamples:\n  beacon reload\n  BEACON_TOKEN=... beacon reload --url http://collector-1:8290',
    )
    .action(async (opts: { url: string; json?: boolean }) => {
      const res = await callBeacon<ReloadOutcome | { code?: string; message?: string }>(opts.url, '/api/v1/reload', {
        method: 'POST',
        timeoutMs: RELOAD_TIMEOUT_MS,
      });
      if (res.status !== 200) throw refusal(res.status, res.body);
      const outcome = res.body as ReloadOutcome;
      if (opts.json) {
        console.log(JSON.stringify(outcome, null, 2));
        return;
      }
      console.log(describe(outcome));
    });
}

/** The server's `{code, message}` as the error the CLI prints (with its hint), whatever it was. */
function refusal(status: number, body: unknown): Error {
  const b = typeof body === 'object' && body !== null ? (body as { code?: unknown; message?: unknown }) : {};
  const message = typeof b.message === 'string' ? b.message : typeof body === 'string' ? body : `HTTP ${status}`;
  if (typeof b.code === 'string' && b.code in ERROR_CODES) return new BeaconError(b.code as ErrorCode, message);
  return new Error(`reload failed with HTTP ${status}: ${message}`);
}

export function describe(o: ReloadOutcome): string {
  const list = (names: string[]) => (names.length > 0 ? names.join(', ') : 'none');
  const lines = [
    `config reloaded from ${o.source}`,
    `  sinks added:     ${list(o.sinks.added)}${o.sinks.added.length > 0 ? ' (from the end of the log; `beacon replay` for older events)' : ''}`,
    `  sinks removed:   ${list(o.sinks.removed)}`,
    `  sinks changed:   ${list(o.sinks.changed)}${o.sinks.changed.length > 0 ? ' (resumed from their cursor)' : ''}`,
    `  sinks unchanged: ${list(o.sinks.unchanged)}`,
  ];
  if (o.needsRestart.length > 0)
    lines.push(`needs a restart to apply (running with the previous values): ${o.needsRestart.join(', ')}`);
  for (const w of o.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
