import { jsonResponse } from '../api/adminRequest.js';
import type { ApiRoute } from '../api/route.js';
import type { ConfigReloader } from './reloader.js';

/**
 * `POST /api/v1/reload` (what `beacon reload` calls): re-reads the config and applies its sink
 * changes. Admin scope. Answers the ReloadOutcome, or 422 BEACON_E_RELOAD_REFUSED with the
 * reason when the new config was not applied.
 */
export function reloadRoute(reloader: ConfigReloader): ApiRoute {
  return {
    method: 'POST',
    path: '/api/v1/reload',
    class: 'admin',
    scope: 'admin',
    summary:
      'Re-read the config (path or URL) and apply its sink changes; other changes are reported as needing a restart',
    async handle() {
      return jsonResponse(200, await reloader.reload('api'));
    },
  };
}
