import type { LiveConfig } from '../config/schema.js';
import type { Metrics } from '../ops/metrics.js';
import { LiveHub, type LiveFeed } from './hub.js';

export { LiveHub } from './hub.js';
export { LogFeed } from './logFeed.js';
export { createLiveEndpoint } from './endpoint.js';
export { IpcFeed, LiveFanout, type LiveToCollector, type LiveToPrimary } from './ipcLink.js';

/** A hub with the configured bounds, reporting to beacon_live_viewers and beacon_live_dropped_total. */
export function createLiveHub(feed: LiveFeed, config: LiveConfig, metrics: Metrics): LiveHub {
  return new LiveHub(
    feed,
    {
      maxViewers: config.maxViewers,
      viewerMaxEvents: config.viewerMaxEvents,
      viewerMaxBytes: config.viewerMaxBytes,
      socketMaxBytes: config.socketMaxBytes,
      maxBehindMs: config.maxBehind,
    },
    { onViewers: (n) => metrics.liveViewers.set(n), onDropped: (n) => metrics.liveDropped.inc(n) },
  );
}
