import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { applyHeapGrowth } from '../../ops/heapGrowth.js';
import { ROLES, ROLE_SUMMARY, runRole, type Role } from '../../runtime/roles.js';
import { processSchemaSet } from '../../schemas/processSchemas.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description(
      'run Beacon: collector, log, dispatcher and API (server.workers collector processes; auto = cores - 1)',
    )
    .option('-c, --config <path|url>', 'config file path or http(s) URL, YAML or JSON (default: embedded defaults)')
    .option(
      '--config-cache <path>',
      'with a URL config: keep the last good copy here and use it when the URL is unreachable',
    )
    .addOption(
      new Option('--role <role>', `what this process runs: ${ROLES.map((r) => `${r} (${ROLE_SUMMARY[r]})`).join('; ')}`)
        .choices(ROLES)
        .default('all'),
    )
    .addHelpText(
      'after',
      '\nWith no --config Beacon listens on :8290, keeps its log under ./data and writes every event to ./data/out/events.ndjson.\n\nExamples:\n  beacon start\n  beacon start --config beacon.yaml\n  beacon start --role collector --config scaled.yaml    # log.type jetstream\n  beacon start --role dispatcher --config scaled.yaml\n  beacon start --role api --config api.yaml\n  BEACON_SERVER__PORT=9000 beacon start --config https://config.internal/beacon.yaml --config-cache /var/lib/beacon/config.yaml',
    )
    .action(async (opts: { config?: string; configCache?: string; role: Role }) => {
      const loaded = await loadConfig({
        source: opts.config,
        cachePath: opts.configCache,
        onWarning: (m) => console.error(`warning: ${m}`),
      });
      // Schema files are read here, so a broken one stops the start with its own message before any process is spawned.
      processSchemaSet(loaded.config);
      applyHeapGrowth(loaded.config.server.heapGrowthPercent);
      await runRole(opts.role, loaded);
    });
}
