import { redactText } from '../config/redact.js';
import { defineInternalEvent, type InternalEventInfo } from '../ops/internalEvent.js';
import type { ReloadOutcome } from './reloader.js';

/**
 * The config reload's internal events, each defined once (docs/operations.md lists them).
 * `source` is the config's path or URL, already redacted; warnings and refusals pass through
 * config/redact.ts, so no secret reaches these lines.
 */

type Trigger = 'signal' | 'api';

/** The context is the warning's text (a config URL that was unreachable, so the cached copy was read). */
const configReloadWarning = defineInternalEvent<{ source: string }, undefined, string>('config_reload_warning', {
  about:
    'a reload succeeded with a warning (the message), e.g. the config URL was unreachable and its cached copy was read',
  level: 'warn',
  fields: { source: true },
  message: (_f, warning) => redactText(warning),
});

const configReloadNeedsRestart = defineInternalEvent<{ source: string; needsRestart: string[] }>(
  'config_reload_needs_restart',
  {
    about: 'a reload changed settings that apply only at the next start; the running values are kept',
    level: 'warn',
    fields: { source: true, needsRestart: true },
    message: (f) =>
      `these settings changed but apply only at the next start; running with the previous values: ${f.needsRestart.join(', ')}`,
  },
);

const configReloaded = defineInternalEvent<{ trigger: Trigger } & ReloadOutcome>('config_reloaded', {
  about: 'a reload was applied (`sinks`: added, removed, changed, unchanged)',
  level: 'info',
  fields: { trigger: true, source: true, sinks: true, needsRestart: true, warnings: true },
  message: 'config reloaded',
});

interface Refused {
  trigger: Trigger;
  source: string;
  code: string;
  /** The refusal's message, its cause redacted. */
  err: string;
}
const configReloadRefused = defineInternalEvent<Refused>('config_reload_refused', {
  about: 'a reload was refused (`code`, `err` say why); Beacon keeps running with the previous config',
  level: 'error',
  fields: { trigger: true, source: true, code: true, err: true },
  message: 'config reload refused; the running config is kept',
});

export const CONFIG_EVENTS = { configReloadWarning, configReloadNeedsRestart, configReloaded, configReloadRefused };

export const CONFIG_EVENT_CATALOGUE: readonly InternalEventInfo[] = Object.values(CONFIG_EVENTS).map((e) => e.info);
