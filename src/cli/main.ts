#!/usr/bin/env node
import { Command } from 'commander';
import { isBeaconError } from '../errors/beaconError.js';
import { redactText } from '../config/redact.js';
import { VERSION } from '../version.js';
import { registerStart } from './commands/start.js';
import { registerCheckConfig } from './commands/checkConfig.js';
import { registerSend } from './commands/send.js';
import { registerTail } from './commands/tail.js';
import { registerStatus } from './commands/status.js';
import { registerReplay } from './commands/replay.js';
import { registerImportCanopsis } from './commands/importCanopsis.js';
import { registerValidate } from './commands/validate.js';
import { registerReload } from './commands/reload.js';

const program = new Command();
program
  .name('beacon')
  .description('Beacon: collect events over HTTP, make them durable, deliver them to every destination')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)');

registerStart(program);
registerCheckConfig(program);
registerSend(program);
registerTail(program);
registerStatus(program);
registerReplay(program);
registerImportCanopsis(program);
registerValidate(program);
registerReload(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  // Every error the CLI prints goes through the one redaction rule (src/config/redact.ts).
  if (isBeaconError(err)) {
    console.error(`error ${err.code}: ${redactText(err.message)}\n  what to do: ${err.hint}`);
  } else {
    console.error(`error: ${redactText((err as Error).message)}`);
  }
  process.exit(1);
});
