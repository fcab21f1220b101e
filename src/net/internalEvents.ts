import { defineInternalEvent, type InternalEventInfo } from '../ops/internalEvent.js';

/** The TLS helpers' internal events, each defined once (docs/operations.md lists them). */

const tlsReloaded = defineInternalEvent<{ cert: string }>('tls_reloaded', {
  about: "the HTTP source's certificate files changed on disk and were loaded",
  level: 'info',
  fields: { cert: true },
  message: 'TLS certificate changed on disk; new connections use it',
});

const tlsReloadFailed = defineInternalEvent<{ code: 'BEACON_E_TLS_FILE'; err: string }>('tls_reload_failed', {
  about: 'the certificate files changed but cannot be loaded (logged once per problem); the previous one is served',
  level: 'warn',
  fields: { code: true, err: true },
  message: 'TLS files changed but cannot be loaded; still serving the previous certificate',
});

export const TLS_EVENTS = { tlsReloaded, tlsReloadFailed };

export const TLS_EVENT_CATALOGUE: readonly InternalEventInfo[] = Object.values(TLS_EVENTS).map((e) => e.info);
