/**
 * The API's answers as the page uses them, parsed (not cast) from `unknown`: a field of the
 * wrong type becomes a default or the whole answer is refused with a message naming the
 * field, so a Beacon of another version shows a clear problem rather than a broken page.
 */

export class ShapeError extends Error {}

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ShapeError(`${what} is not a JSON object`);
  return v as Json;
}
const num = (v: unknown, fallback = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const time = (v: unknown): number | undefined => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
};

export type SinkState = 'idle' | 'delivering' | 'backing_off' | 'fatal' | 'stopped' | 'unknown';
const STATES: readonly SinkState[] = ['idle', 'delivering', 'backing_off', 'fatal', 'stopped'];

export interface SinkView {
  name: string;
  type: string;
  state: SinkState;
  /** When the sink entered `state` (epoch ms). */
  since: number | undefined;
  lagEvents: number;
  lagSeconds: number;
  delivered: number;
  deadLettered: number;
  lastError?: { message: string; kind: string; at: number | undefined };
  nextAttemptAt: number | undefined;
}

export interface StatusView {
  version: string;
  uptimeSeconds: number;
  log: { bytes: number; maxBytes: number; ratio: number };
  sinks: SinkView[];
}

export function parseStatus(value: unknown): StatusView {
  const body = obj(value, 'the status answer');
  const log = obj(body.log ?? {}, 'status.log');
  if (!Array.isArray(body.sinks)) throw new ShapeError('status.sinks is not a list');
  return {
    version: str(body.version, '?'),
    uptimeSeconds: num(body.uptimeSeconds),
    log: { bytes: num(log.bytes), maxBytes: num(log.maxBytes), ratio: num(log.ratio) },
    sinks: body.sinks.map((s, i) => parseSink(obj(s, `status.sinks[${i}]`))),
  };
}

function parseSink(s: Json): SinkView {
  const state = STATES.find((k) => k === s.state) ?? 'unknown';
  const sink: SinkView = {
    name: str(s.name, '?'),
    type: str(s.type, '?'),
    state,
    since: time(s.since),
    lagEvents: num(s.lagEvents),
    lagSeconds: num(s.lagSeconds),
    delivered: num(s.delivered),
    deadLettered: num(s.deadLettered),
    nextAttemptAt: time(s.nextAttemptAt),
  };
  if (typeof s.lastError === 'object' && s.lastError !== null) {
    const e = s.lastError as Json;
    sink.lastError = { message: str(e.message), kind: str(e.kind), at: time(e.at) };
  }
  return sink;
}

/** `GET /api/v1/sinks`: what waits in each sink's dead letter now (a replay empties it). */
export function parseWaitingDeadLetters(value: unknown): Map<string, number> {
  const body = obj(value, 'the sinks answer');
  if (!Array.isArray(body.sinks)) throw new ShapeError('sinks.sinks is not a list');
  const waiting = new Map<string, number>();
  for (const [i, raw] of body.sinks.entries()) {
    const s = obj(raw, `sinks[${i}]`);
    const dl = typeof s.deadLetters === 'object' && s.deadLetters !== null ? (s.deadLetters as Json) : {};
    waiting.set(str(s.name), num(dl.count));
  }
  return waiting;
}

export interface DeadLetterSample {
  ts: number;
  reason: string;
  errorType: string;
  event: Json;
}

export interface DeadLettersView {
  sink: string;
  count: number;
  bytes: number;
  samples: DeadLetterSample[];
}

export function parseDeadLetters(value: unknown): DeadLettersView {
  const body = obj(value, 'the dead-letter answer');
  const samples = Array.isArray(body.samples) ? body.samples : [];
  return {
    sink: str(body.sink),
    count: num(body.count),
    bytes: num(body.bytes),
    samples: samples.map((raw, i) => {
      const s = obj(raw, `samples[${i}]`);
      return {
        ts: time(s.ts) ?? 0,
        reason: str(s.reason),
        errorType: str(s.errorType),
        event: typeof s.event === 'object' && s.event !== null ? (s.event as Json) : {},
      };
    }),
  };
}

export interface ReplayView {
  replayed: number;
  delivered: number;
  deadLettered: number;
  unreadable: number;
}

export function parseReplay(value: unknown): ReplayView {
  const body = obj(value, 'the replay answer');
  return {
    replayed: num(body.replayed),
    delivered: num(body.delivered),
    deadLettered: num(body.deadLettered),
    unreadable: num(body.unreadable),
  };
}

export type Series = (number | null)[];

export interface ThroughputView {
  intervalMs: number;
  /** Start of the newest slot (epoch ms). */
  end: number;
  received: Series;
  rejected: Series;
  delivered: Series;
  /** Destinations whose deliveries `delivered` adds up. */
  sinks: string[];
}

export function parseThroughput(value: unknown): ThroughputView {
  const body = obj(value, 'the throughput answer');
  const series = (name: string): Series => {
    const v = body[name];
    if (!Array.isArray(v)) throw new ShapeError(`throughput.${name} is not a list`);
    return v.map((x) => (typeof x === 'number' && Number.isFinite(x) ? x : null));
  };
  const received = series('received');
  const rejected = series('rejected');
  const delivered = series('delivered');
  if (rejected.length !== received.length || delivered.length !== received.length)
    throw new ShapeError('throughput series differ in length');
  const bySink = body.deliveredBySink;
  const sinks = typeof bySink === 'object' && bySink !== null ? Object.keys(bySink) : [];
  return { intervalMs: num(body.intervalMs, 1000), end: num(body.end), received, rejected, delivered, sinks };
}

/** One event from `/live` (the json codec's shape); only what the list shows is checked. */
export interface LiveEvent {
  id: string;
  type: string;
  ts: number;
  props: Json;
  meta: Json;
  raw: Json;
}

export type LiveMessage =
  { kind: 'ready' } | { kind: 'event'; event: LiveEvent } | { kind: 'dropped'; count: number } | { kind: 'other' };

export function parseLiveMessage(text: string): LiveMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'other' };
  }
  if (typeof value !== 'object' || value === null) return { kind: 'other' };
  const m = value as Json;
  if (m.kind === 'ready') return { kind: 'ready' };
  if (m.kind === 'dropped') return { kind: 'dropped', count: num(m.count) };
  if (m.kind === 'event' && typeof m.event === 'object' && m.event !== null) {
    const e = m.event as Json;
    return {
      kind: 'event',
      event: {
        id: str(e.id),
        type: str(e.type, '?'),
        ts: num(e.ts, Date.now()),
        props: typeof e.props === 'object' && e.props !== null ? (e.props as Json) : {},
        meta: typeof e.meta === 'object' && e.meta !== null ? (e.meta as Json) : {},
        raw: e,
      },
    };
  }
  return { kind: 'other' };
}
