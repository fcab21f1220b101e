import { createApiAuth } from '../../api/auth.js';
import { liveAuthorizer } from '../../api/liveAuth.js';
import { adminSurfaceOf } from '../../api/adminSurface.js';
import type { EventLog } from '../../log/eventLog.js';
import { createLiveEndpoint, createLiveHub, LiveFanout, LogFeed } from '../../live/index.js';
import type { LiveFeed } from '../../live/hub.js';
import type { UpgradeHandler } from '../../sources/http/server.js';
import { part, type Part } from './part.js';
import type { ProcessContext } from './processContext.js';

export interface LivePart extends Part {
  onUpgrade: UpgradeHandler;
}

/**
 * The `/live` WebSocket endpoint of a process that takes HTTP requests, over `feed`: the log
 * itself (LogFeed) where this process reads it, else the link to the one that does (IpcFeed).
 */
export function startLiveEndpoint(ctx: ProcessContext, feed: LiveFeed): LivePart {
  const live = createLiveEndpoint(
    createLiveHub(feed, ctx.config.live, ctx.metrics),
    ctx.logger,
    liveAuthorizer(createApiAuth(ctx.config.api), adminSurfaceOf(ctx.config)),
  );
  return { ...part('live', 'live', () => live.close()), onUpgrade: live.onUpgrade };
}

/** The endpoint over this process's own log. */
export function startLiveOverLog(ctx: ProcessContext, log: EventLog): LivePart {
  return startLiveEndpoint(ctx, new LogFeed(log, ctx.logger));
}

export interface LiveFanoutPart extends Part {
  fanout: LiveFanout;
}

/** The one log feed of a reader that serves viewers connected to other processes or threads (bounded per link). */
export function startLiveFanout(ctx: ProcessContext, log: EventLog): LiveFanoutPart {
  const fanout = new LiveFanout(new LogFeed(log, ctx.logger), ctx.config.live.collectorMaxEvents);
  return { ...part('live', 'live', () => fanout.close()), fanout };
}
