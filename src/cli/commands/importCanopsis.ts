import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { BeaconError } from '../../errors/beaconError.js';
import { validateConfig } from '../../config/load.js';
import { canopsisToBeaconConfig, DEFAULT_IMPORT_OPTIONS, parseCanopsisTargets } from '../../config/import/canopsis.js';

export function registerImportCanopsis(program: Command): void {
  const importCommand =
    program.commands.find((c) => c.name() === 'import') ??
    program.command('import').description("turn another tool's config into a Beacon config");
  importCommand
    .command('canopsis <targets.json>')
    .description(
      'convert a Canopsis dispatcher targets.json into a Beacon config (one amqp source, one rabbitmq sink per target)',
    )
    .option(
      '--input-queue <name>',
      'the queue the dispatcher consumed on its local RabbitMQ',
      DEFAULT_IMPORT_OPTIONS.inputQueue,
    )
    .option('--input-host <host>', 'the local RabbitMQ holding the input queue', DEFAULT_IMPORT_OPTIONS.inputHost)
    .option('--input-port <port>', 'its port', String(DEFAULT_IMPORT_OPTIONS.inputPort))
    .option('--input-vhost <vhost>', 'its vhost', DEFAULT_IMPORT_OPTIONS.inputVhost)
    .option('--exchange <name>', 'the exchange events are published to on each target', DEFAULT_IMPORT_OPTIONS.exchange)
    .option('-o, --out <file>', 'write the YAML to this file instead of standard output')
    .addHelpText(
      'after',
      '\nExamples:\n  beacon import canopsis /opt/dispatcher/etc/targets.json\n  beacon import canopsis targets.json --input-queue dispatcher --out beacon.yaml && beacon check-config --config beacon.yaml',
    )
    .action(
      async (
        file: string,
        opts: {
          inputQueue: string;
          inputHost: string;
          inputPort: string;
          inputVhost: string;
          exchange: string;
          out?: string;
        },
      ) => {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (err) {
          throw new BeaconError(
            'BEACON_E_CONFIG_UNREACHABLE',
            `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
            { source: file },
          );
        }
        const port = Number(opts.inputPort);
        const config = canopsisToBeaconConfig(parseCanopsisTargets(text, file), {
          inputQueue: opts.inputQueue,
          inputHost: opts.inputHost,
          inputPort: port,
          inputVhost: opts.inputVhost,
          exchange: opts.exchange,
        });
        // What is printed must load: validate it with the same schema `beacon start` uses.
        validateConfig(structuredClone(config), `import of ${file}`);
        const yaml = `# Imported from the Canopsis dispatcher config ${file} by \`beacon import canopsis\`.\n# Each target is a rabbitmq sink with its own cursor: while a target is down its events wait in Beacon's log.\n${stringify(config)}`;
        if (opts.out) {
          await writeFile(opts.out, yaml);
          const sinks = (config.sinks as unknown[]).length;
          console.error(
            `wrote ${opts.out}: 1 amqp source (queue "${opts.inputQueue}"), ${sinks} rabbitmq sink(s); check it with: beacon check-config --config ${opts.out}`,
          );
        } else {
          process.stdout.write(yaml);
        }
      },
    );
}
