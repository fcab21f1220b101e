import { BeaconError } from '../../errors/beaconError.js';
import type { Clock } from '../../ops/clock.js';
import type { StoreReader } from '../../store/storeReader.js';
import { jsonResponse, type AdminRequest, type AdminResponse } from '../adminRequest.js';
import type { ApiRoute } from '../route.js';
import { fillBuckets, typesByCount } from './buckets.js';
import {
  choiceParam,
  durationParam,
  formatMs,
  intParam,
  refuseNul,
  requiredTimeParam,
  textParam,
  timeParam,
  whereParam,
} from './params.js';

const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Most buckets one counts answer holds (a day of minutes); past it the caller picks a larger bucket. */
export const MAX_RECENT_BUCKETS = 1440;
/** Most buckets of an archive counts answer (about 200 days of hours, 13 years of days). */
export const MAX_ARCHIVE_BUCKETS = 5000;
/** Most events one `events` answer holds. */
export const MAX_EVENTS = 1000;

/**
 * The query endpoints over a StoreReader: real-time views of the last minutes (micro-cached
 * by the router for seconds) and archive views of past days (cached for hours). Handlers
 * only parse, ask the reader and shape the answer; auth and caching come from the router.
 * Times in answers are ISO 8601 UTC; buckets are aligned to UTC (whole minutes, hours, days).
 */
export function queryRoutes(reader: StoreReader, clock: Pick<Clock, 'now'>): ApiRoute[] {
  return withoutNul([
    {
      method: 'GET',
      path: '/api/v1/query/counts/recent',
      class: 'realtime',
      scope: 'read',
      summary: 'Events per type over the last minutes, in time buckets',
      handle: async (req) => recentCounts(reader, clock.now(), req),
    },
    {
      method: 'GET',
      path: '/api/v1/query/events',
      class: 'realtime',
      scope: 'read',
      summary: 'The most recent events, newest first, filtered by type and props',
      handle: async (req) => recentEvents(reader, req),
    },
    {
      method: 'GET',
      path: '/api/v1/query/rate',
      class: 'realtime',
      scope: 'read',
      summary: 'Events per second over the last seconds',
      handle: async (req) => rate(reader, clock.now(), req),
    },
    {
      method: 'GET',
      path: '/api/v1/query/counts',
      class: 'archive',
      scope: 'read',
      summary: 'Events per type per hour or day over a date range',
      handle: async (req) => archiveCounts(reader, req),
    },
    {
      method: 'GET',
      path: '/api/v1/query/props/{prop}/top',
      class: 'archive',
      scope: 'read',
      summary: 'The most frequent values of one prop over a date range',
      handle: async (req, params) => topValues(reader, params.prop!, req),
    },
    {
      method: 'GET',
      path: '/api/v1/query/events/{id}',
      class: 'archive',
      scope: 'read',
      summary: 'One event by id',
      handle: async (_req, params) => eventById(reader, params.id!),
    },
  ]);
}

/** Every query route refuses U+0000 in its parameters before it asks the store (see refuseNul). */
function withoutNul(routes: ApiRoute[]): ApiRoute[] {
  return routes.map((route) => ({
    ...route,
    handle: async (req, params) => {
      refuseNul(req.query, params);
      return route.handle(req, params);
    },
  }));
}

/** `GET /api/v1/query/counts/recent?minutes=60&bucket=1m&type=`: the last bucket is the current, partial one. */
async function recentCounts(reader: StoreReader, now: number, req: AdminRequest): Promise<AdminResponse> {
  const minutes = intParam(req.query, 'minutes', { min: 1, max: 1440, fallback: 60 });
  const bucket = durationParam(req.query, 'bucket', { minMs: SECOND, maxMs: DAY, fallback: '1m' });
  const type = textParam(req.query, 'type');
  if (bucket.ms > minutes * MINUTE)
    throw new BeaconError(
      'BEACON_E_BAD_QUERY',
      `bucket (${bucket.text}) must not be longer than minutes (${minutes}); lower bucket or raise minutes`,
      { param: 'bucket' },
    );
  const count = Math.ceil((minutes * MINUTE) / bucket.ms);
  if (count > MAX_RECENT_BUCKETS) {
    throw new BeaconError(
      'BEACON_E_BAD_QUERY',
      `${minutes} minutes in ${bucket.text} buckets is ${count} buckets; at most ${MAX_RECENT_BUCKETS}: raise bucket or lower minutes`,
      { param: 'bucket' },
    );
  }
  const to = Math.floor(now / bucket.ms) * bucket.ms + bucket.ms;
  const from = to - count * bucket.ms;
  const rows = await reader.countsByBucket({ from, to, bucketMs: bucket.ms, ...(type !== undefined && { type }) });
  return jsonResponse(200, {
    from: iso(from),
    to: iso(to),
    bucket: formatMs(bucket.ms),
    type: type ?? null,
    types: typesByCount(rows),
    buckets: fillBuckets(rows, from, to, bucket.ms),
  });
}

/** `GET /api/v1/query/events?type=&where=plan:pro&limit=50&before=`. */
async function recentEvents(reader: StoreReader, req: AdminRequest): Promise<AdminResponse> {
  const limit = intParam(req.query, 'limit', { min: 1, max: MAX_EVENTS, fallback: 50 });
  const type = textParam(req.query, 'type');
  const propEquals = whereParam(req.query);
  const before = timeParam(req.query, 'before');
  const events = await reader.recent({
    limit,
    ...(type !== undefined && { type }),
    ...(propEquals && { propEquals }),
    ...(before !== undefined && { before }),
  });
  return jsonResponse(200, { events });
}

/**
 * `GET /api/v1/query/rate?window=10s`: over the whole seconds of a window that ended a second
 * ago, because the store trails the log by its batch wait and the current second is not over.
 */
async function rate(reader: StoreReader, now: number, req: AdminRequest): Promise<AdminResponse> {
  const window = durationParam(req.query, 'window', { minMs: SECOND, maxMs: HOUR, fallback: '10s' });
  const to = Math.floor(now / SECOND) * SECOND - SECOND;
  const from = to - window.ms;
  const count = await reader.countBetween(from, to);
  return jsonResponse(200, {
    from: iso(from),
    to: iso(to),
    window: formatMs(window.ms),
    count,
    perSecond: round3(count / (window.ms / SECOND)),
  });
}

/** `GET /api/v1/query/counts?from=2026-11-01&to=2026-11-24&interval=day&type=`: `to` as a date includes that day. */
async function archiveCounts(reader: StoreReader, req: AdminRequest): Promise<AdminResponse> {
  const { from, to } = dateRange(req);
  const interval = choiceParam(req.query, 'interval', ['hour', 'day'] as const, 'day');
  const type = textParam(req.query, 'type');
  const size = interval === 'hour' ? HOUR : DAY;
  const start = Math.floor(from / size) * size;
  const end = Math.ceil(to / size) * size;
  if ((end - start) / size > MAX_ARCHIVE_BUCKETS) {
    throw new BeaconError(
      'BEACON_E_BAD_QUERY',
      `the range holds ${(end - start) / size} ${interval}s; at most ${MAX_ARCHIVE_BUCKETS}: shorten it${interval === 'hour' ? ' or use interval=day' : ''}`,
      { param: 'to' },
    );
  }
  const rows = await reader.countsByBucket({
    from: start,
    to: end,
    bucketMs: size,
    ...(type !== undefined && { type }),
  });
  return jsonResponse(200, {
    from: iso(start),
    to: iso(end),
    interval,
    type: type ?? null,
    types: typesByCount(rows),
    buckets: fillBuckets(rows, start, end, size),
  });
}

/** `GET /api/v1/query/props/{prop}/top?from=&to=&type=&limit=10`. */
async function topValues(reader: StoreReader, prop: string, req: AdminRequest): Promise<AdminResponse> {
  if (prop.length > 256)
    throw new BeaconError('BEACON_E_BAD_QUERY', `the prop name must be at most 256 characters; got ${prop.length}`, {
      param: 'prop',
    });
  const { from, to } = dateRange(req);
  const type = textParam(req.query, 'type');
  const limit = intParam(req.query, 'limit', { min: 1, max: MAX_EVENTS, fallback: 10 });
  const values = await reader.topValues({ prop, from, to, limit, ...(type !== undefined && { type }) });
  return jsonResponse(200, { prop, from: iso(from), to: iso(to), type: type ?? null, values });
}

/** `GET /api/v1/query/events/{id}`: the event in the json codec's shape, or 404. */
async function eventById(reader: StoreReader, id: string): Promise<AdminResponse> {
  if (id.length > 256)
    throw new BeaconError('BEACON_E_BAD_QUERY', `an event id is at most 256 characters; got ${id.length}`, {
      param: 'id',
    });
  const event = await reader.byId(id);
  if (!event) {
    throw new BeaconError(
      'BEACON_E_EVENT_NOT_FOUND',
      `no stored event has id ${JSON.stringify(id)}; an event sent a moment ago may not be stored yet, and events past store.retention are deleted`,
      { id },
    );
  }
  return jsonResponse(200, event);
}

/** The required `from` and `to` of an archive query; a bare-date `to` includes its day. */
function dateRange(req: AdminRequest): { from: number; to: number } {
  const from = requiredTimeParam(req.query, 'from');
  const to = requiredTimeParam(req.query, 'to', { endOfDay: true });
  if (to <= from)
    throw new BeaconError('BEACON_E_BAD_QUERY', `to (${iso(to)}) must be after from (${iso(from)})`, { param: 'to' });
  return { from, to };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
