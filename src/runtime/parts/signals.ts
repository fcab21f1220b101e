import { onShutdownSignal } from '../../ops/shutdown.js';
import { onReloadSignal } from '../../reload/index.js';
import type { ProcessContext } from './processContext.js';

/**
 * A process that owns its signals: SIGTERM/SIGINT stop its parts in order (then exit), SIGHUP
 * reloads the config where `reload` is given (the process that runs the sinks).
 */
export function stopOnSignals(ctx: ProcessContext, reload?: () => Promise<unknown>): void {
  if (reload) onReloadSignal(ctx.logger, reload);
  onShutdownSignal(ctx.logger, () => ctx.parts.stop());
}

/** Every part is started: ready from now on, stopped in order on SIGTERM/SIGINT, reloaded on SIGHUP where given. */
export function serve(ctx: ProcessContext, reload?: () => Promise<unknown>): void {
  ctx.parts.markReady();
  stopOnSignals(ctx, reload);
}
