import { BeaconError } from '../errors/beaconError.js';
import type { ThroughputHistory } from '../ops/throughputHistory.js';
import { jsonResponse } from './adminRequest.js';
import type { ApiRoute } from './route.js';

/**
 * `GET /api/v1/throughput[?seconds=N]`: received, rejected and delivered events per second
 * over the last N seconds (default and most: the history's 900), oldest first, `null` where
 * Beacon was not yet sampling. Served by the process that owns the dispatcher.
 */
export function throughputRoute(history: ThroughputHistory, now: () => number = Date.now): ApiRoute {
  return {
    method: 'GET',
    path: '/api/v1/throughput',
    class: 'realtime',
    scope: 'read',
    summary: 'Events received, rejected and delivered per second over the last 15 minutes',
    async handle(req) {
      const raw = req.query.seconds;
      let seconds = history.slots;
      if (raw !== undefined) {
        seconds = Number(raw);
        if (!Number.isInteger(seconds) || seconds < 1 || seconds > history.slots) {
          throw new BeaconError(
            'BEACON_E_BAD_QUERY',
            `seconds must be a whole number from 1 to ${history.slots}, not ${JSON.stringify(raw)}`,
          );
        }
      }
      return jsonResponse(200, history.window(now(), seconds));
    },
  };
}
