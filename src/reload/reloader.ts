import type { Logger } from 'pino';
import { loadConfig, type LoadOptions } from '../config/load.js';
import type { BeaconConfig } from '../config/schema.js';
import type { DispatcherSink } from '../dispatch/dispatcher.js';
import { BeaconError, isBeaconError } from '../errors/beaconError.js';
import { diffConfig, type SinkConfig } from './configDiff.js';
import { redactText } from '../config/redact.js';
import { CONFIG_EVENTS } from './internalEvents.js';

/** What a reload did; the answer of `POST /api/v1/reload` and the `config_reloaded` log line. */
export interface ReloadOutcome {
  /** The path or URL the config was read from. */
  source: string;
  sinks: { added: string[]; removed: string[]; changed: string[]; unchanged: string[] };
  /** Settings that differ but apply only at the next start; the running values are kept. */
  needsRestart: string[];
  /** E.g. a URL that was unreachable, so the `--config-cache` copy was read instead. */
  warnings: string[];
}

/** The part of the dispatcher a reload drives (Dispatcher.applySinks). */
export interface SinkSet {
  applySinks(
    change: { add: readonly DispatcherSink[]; change: readonly DispatcherSink[]; remove: readonly string[] },
    deadlineMs: number,
  ): Promise<void>;
}

export interface ReloaderDeps {
  /** How the running config was loaded (path or URL, --config-cache, environment). */
  loadOptions: LoadOptions;
  /** The config in force; replaced after each reload that applied something. */
  initial: BeaconConfig;
  sinks: SinkSet;
  logger: Logger;
  /** Called with the config in force after a reload (the running one with the new sinks). */
  onApplied?: (config: BeaconConfig) => void;
}

/**
 * Re-reads the config the way `beacon start` read it and applies what can change while
 * running: the sinks. Promises it keeps:
 * - An invalid or unreadable new config changes nothing: BEACON_E_RELOAD_REFUSED, logged, and
 *   the running config stays.
 * - No event is dropped: sinks that stay are not touched; removed and changed sinks finish
 *   their batch in flight and persist their cursor before they stop; a changed sink resumes
 *   from that cursor; the log keeps every event regardless.
 * - Reloads run one at a time, in the order asked; none runs once Beacon is stopping.
 */
export class ConfigReloader {
  private config: BeaconConfig;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly deps: ReloaderDeps) {
    this.config = deps.initial;
  }

  /** The config in force. */
  get current(): BeaconConfig {
    return this.config;
  }

  /** Reloads once the reloads asked before have finished; rejects with BEACON_E_RELOAD_REFUSED. */
  reload(trigger: 'signal' | 'api'): Promise<ReloadOutcome> {
    const run = this.queue.then(() => this.reloadNow(trigger));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Refuses further reloads and waits for one under way. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }

  private async reloadNow(trigger: 'signal' | 'api'): Promise<ReloadOutcome> {
    const { logger } = this.deps;
    // Shown in the answer and the logs: a --config URL's credentials and query values hidden.
    const source = this.deps.loadOptions.source ? redactText(this.deps.loadOptions.source) : '(embedded defaults)';
    if (this.closed)
      throw this.refused(
        trigger,
        source,
        new BeaconError('BEACON_E_RELOAD_REFUSED', 'Beacon is stopping; nothing was reloaded'),
      );
    const warnings: string[] = [];
    let next: BeaconConfig;
    try {
      next = (await loadConfig({ ...this.deps.loadOptions, onWarning: (m) => warnings.push(m) })).config;
    } catch (err) {
      throw this.refused(trigger, source, err);
    }
    const diff = diffConfig(this.config, next);
    const entry = (config: SinkConfig): DispatcherSink => ({ config });
    try {
      await this.deps.sinks.applySinks(
        { add: diff.sinks.added.map(entry), change: diff.sinks.changed.map(entry), remove: diff.sinks.removed },
        this.config.dispatch.shutdownTimeout,
      );
    } catch (err) {
      throw this.refused(trigger, source, err);
    }
    this.config = { ...this.config, sinks: next.sinks };
    this.deps.onApplied?.(this.config);
    const outcome: ReloadOutcome = {
      source,
      sinks: {
        added: diff.sinks.added.map((s) => s.name),
        removed: diff.sinks.removed,
        changed: diff.sinks.changed.map((s) => s.name),
        unchanged: diff.sinks.unchanged,
      },
      needsRestart: diff.needsRestart,
      warnings,
    };
    for (const warning of warnings) CONFIG_EVENTS.configReloadWarning.emit({ logger }, { source }, warning);
    if (outcome.needsRestart.length > 0)
      CONFIG_EVENTS.configReloadNeedsRestart.emit({ logger }, { source, needsRestart: outcome.needsRestart });
    CONFIG_EVENTS.configReloaded.emit({ logger }, { trigger, ...outcome, warnings: outcome.warnings.map(redactText) });
    return outcome;
  }

  /** The error a refused reload answers with, logged once here. */
  private refused(trigger: 'signal' | 'api', source: string, err: unknown): BeaconError {
    // Config errors are redacted where they are made; a sink that failed to build may name its URL.
    const cause = redactText(isBeaconError(err) ? `${err.code}: ${err.message}` : (err as Error).message);
    const refusal =
      isBeaconError(err) && err.code === 'BEACON_E_RELOAD_REFUSED'
        ? err
        : new BeaconError(
            'BEACON_E_RELOAD_REFUSED',
            `the config from ${source} was not applied; Beacon keeps running with the previous one. ${cause}`,
            { source },
            { cause: err },
          );
    CONFIG_EVENTS.configReloadRefused.emit(this.deps, { trigger, source, code: refusal.code, err: refusal.message });
    return refusal;
  }
}
