import { SinkError, type RejectedEvent } from '../sink.js';

/**
 * How an HTTP answer or error maps to a failure kind. Kept apart from the transport so the
 * table reads as the protocol it implements:
 *
 * | answer                                   | kind                                        |
 * |------------------------------------------|---------------------------------------------|
 * | 2xx                                      | delivered (unless the body names rejected events) |
 * | 408, 429, 5xx                            | retry, after Retry-After when sent          |
 * | 401, 403, 407                            | fatal: credentials are config, every event would fail |
 * | other 4xx                                | reject: the dispatcher bisects to the bad events |
 * | connection refused / reset / closed      | reconnect                                   |
 * | timeout, DNS and other network errors    | retry                                       |
 */
export function classifyStatus(
  status: number,
  body: string,
  retryAfter: string | undefined,
  now: number,
): SinkError | undefined {
  if (status >= 200 && status < 300) return rejectedInBody(body);
  const detail = body.trim().slice(0, 300);
  const message = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  const errorType = `http_${status}`;
  if (status === 408 || status === 429 || status >= 500) {
    return new SinkError('retry', message, { errorType, retryAfterMs: parseRetryAfter(retryAfter, now) });
  }
  if (status === 401 || status === 403 || status === 407) return new SinkError('fatal', message, { errorType });
  return new SinkError('reject', message, { errorType });
}

/**
 * A 2xx whose JSON body lists `rejected: [{index, message|reason}]` (as Beacon's own
 * `POST /batch` answers) accepted only part of the batch: the named events are rejected.
 */
function rejectedInBody(body: string): SinkError | undefined {
  if (!body.includes('"rejected"')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const list = (parsed as { rejected?: unknown } | null)?.rejected;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const rejected: RejectedEvent[] = [];
  for (const item of list) {
    const r = item as { index?: unknown; message?: unknown; reason?: unknown; code?: unknown };
    if (typeof r.index !== 'number') continue;
    const reason =
      [r.code, r.message ?? r.reason].filter((x) => typeof x === 'string').join(': ') || 'rejected by the endpoint';
    rejected.push({ index: r.index, reason });
  }
  if (rejected.length === 0) return undefined;
  return new SinkError('reject', `endpoint rejected ${rejected.length} event(s)`, {
    errorType: 'http_partial',
    rejected,
  });
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const RECONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

export function classifyNetworkError(err: unknown): SinkError {
  const e = err as { code?: unknown; name?: string; message?: string; cause?: { code?: unknown } } | undefined;
  // A timeout arrives as a DOMException, whose `code` is a number: name it instead.
  const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError';
  const code = timedOut
    ? 'timeout'
    : typeof e?.code === 'string'
      ? e.code
      : typeof e?.cause?.code === 'string'
        ? e.cause.code
        : 'network';
  const message = `request failed: ${e?.message ?? String(err)}${e?.cause?.code ? ` (${e.cause.code})` : ''}`;
  const kind = RECONNECT_CODES.has(code) ? 'reconnect' : 'retry';
  return new SinkError(kind, message, { errorType: code.toLowerCase(), cause: err });
}
