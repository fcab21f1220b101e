import type { Logger } from 'pino';

/**
 * SIGHUP reloads the config (`systemctl reload`, `kill -HUP`), one reload per signal. The
 * outcome or the refusal is logged by the reload itself. Installing the handler also keeps
 * SIGHUP from ending the process, which is node's default.
 */
export function onReloadSignal(logger: Logger, reload: () => Promise<unknown>): void {
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading the config');
    reload().catch(() => undefined);
  });
}
