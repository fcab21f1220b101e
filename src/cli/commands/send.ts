import type { Command } from 'commander';
import { callBeacon, DEFAULT_URL, expectOk } from '../client.js';

export function registerSend(program: Command): void {
  program
    .command('send')
    .description('send one event to a running Beacon (as POST /t/<type>)')
    .argument('<type>', 'event type, e.g. pageview')
    .argument('[props...]', 'properties as key=value')
    .option('--url <url>', 'Beacon to send to', DEFAULT_URL)
    .addHelpText(
      'after',
      '\nExamples:\n  beacon send pageview path=/home user=42\n  beacon send signup plan=pro --url http://127.0.0.1:9000',
    )
    .action(async (type: string, pairs: string[], opts: { url: string }) => {
      const props: Record<string, string> = {};
      for (const pair of pairs) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new Error(`"${pair}" is not key=value; write props as key=value, e.g. path=/home`);
        props[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const res = await callBeacon(opts.url, `/t/${encodeURIComponent(type)}`, {
        method: 'POST',
        body: JSON.stringify(props),
        headers: { 'content-type': 'application/json' },
      });
      expectOk(res, 'send');
      console.log(`sent ${type} (${Object.keys(props).length} props): durable in the log`);
    });
}
