import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadConfig } from '../../config/load.js';
import { redactConfig } from '../../config/redact.js';
import { SchemaSet } from '../../schemas/schemaSet.js';

export function registerCheckConfig(program: Command): void {
  program
    .command('check-config')
    .description('validate a config and print it resolved (defaults and BEACON_ overrides applied, secrets redacted)')
    .option('-c, --config <path|url>', 'config file path or http(s) URL (default: the embedded defaults)')
    .option('--json', 'print JSON instead of YAML')
    .addHelpText(
      'after',
      '\nExamples:\n  beacon check-config --config beacon.yaml\n  BEACON_SERVER__PORT=9000 beacon check-config --config https://config.internal/beacon.yaml',
    )
    .action(async (opts: { config?: string; json?: boolean }) => {
      const loaded = await loadConfig({ source: opts.config });
      // The schema files are part of the config: a file that does not compile fails the check.
      const schemas = SchemaSet.load(loaded.config.schemas);
      const shown = redactConfig(loaded.config);
      console.log(opts.json ? JSON.stringify(shown, null, 2) : stringify(shown).trimEnd());
      const from = loaded.overrides.map((o) => o.variable);
      const checked =
        schemas.types.length > 0
          ? `; ${schemas.types.length} event schema${schemas.types.length === 1 ? '' : 's'} compiled`
          : '';
      console.error(`config OK (${loaded.source}${from.length ? `; overridden by ${from.join(', ')}` : ''}${checked})`);
    });
}
