import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type * as Undici from 'undici';
import type { Pool } from 'undici';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { encodeLines, getCodec } from '../../event/codecs/registry.js';
import type { Codec } from '../../event/codecs/codec.js';
import { SinkError, type Attempt, type Sink, type SinkContext, type SinkDeadlines, whenAborted } from '../sink.js';
import type { HttpSinkConfig } from './index.js';
import { classifyNetworkError, classifyStatus } from './responseClass.js';
import { lazyRequire } from '../../net/lazyRequire.js';

const undici = lazyRequire<typeof Undici>('undici');

const gzip = promisify(gzipCallback);

/** The attempt of a `deliver` called outside the loop: never aborted. */
const UNBOUNDED: Attempt = { signal: new AbortController().signal };

/** POSTs one batch per `deliver` over a keep-alive pool; see responseClass.ts for the answers. */
export class HttpSink implements Sink {
  private readonly codec: Codec;
  private readonly url: URL;
  private pool: Pool | undefined;

  constructor(
    private readonly config: HttpSinkConfig,
    private readonly context: Pick<SinkContext, 'clock'>,
  ) {
    this.codec = getCodec(config.codec);
    this.url = new URL(config.url);
  }

  /**
   * The loop bounds each request by `timeoutMs` (connect, send, answer): past it the attempt's
   * signal aborts the request (undici drops its connection) and the attempt is retried, as a
   * timeout always was; the pool stays, so no reconnect is needed.
   */
  get deadlines(): SinkDeadlines {
    return {
      attemptMs: this.config.timeoutMs,
      timedOut: (ms) =>
        new SinkError('retry', `request failed: no answer from ${this.url.origin} within ${ms} ms (timeoutMs)`, {
          errorType: 'timeout',
        }),
      closeMs: this.config.timeoutMs,
    };
  }

  async open(): Promise<void> {
    // HTTP has no session to set up; the pool connects lazily and keeps connections alive.
    this.pool ??= new (undici().Pool)(this.url.origin, {
      connections: this.config.connections,
      keepAliveTimeout: 30_000,
      connect: { timeout: this.config.timeoutMs },
    });
  }

  /** Called directly (tests, tools) without an attempt, nothing bounds the request but the connect timeout. */
  async deliver(batch: readonly TrackedEvent[], attempt: Attempt = UNBOUNDED): Promise<void> {
    const pool = this.pool;
    if (!pool) throw new SinkError('reconnect', 'http sink is not open', { errorType: 'not_open' });
    let body = this.encode(batch);
    const headers: Record<string, string> = {
      ...this.config.headers,
      'content-type': this.config.format === 'json' ? 'application/json' : 'application/x-ndjson',
    };
    if (this.config.gzip) {
      body = await gzip(body);
      headers['content-encoding'] = 'gzip';
    }
    let status: number;
    let text: string;
    let retryAfter: string | undefined;
    try {
      const res = await pool.request({
        path: this.url.pathname + this.url.search,
        method: 'POST',
        headers,
        body,
        signal: attempt.signal,
      });
      status = res.statusCode;
      const header = res.headers['retry-after'];
      retryAfter = Array.isArray(header) ? header[0] : header;
      text = await res.body.text();
    } catch (err) {
      throw classifyNetworkError(err);
    }
    const failure = classifyStatus(status, text, retryAfter, this.context.clock.now());
    if (failure) throw failure;
  }

  async close(signal: AbortSignal = AbortSignal.timeout(this.config.timeoutMs)): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (!pool) return;
    // close() waits for requests in flight; the loop's close deadline (timeoutMs) destroys the pool.
    const closed = await Promise.race([pool.close().then(() => true), whenAborted(signal).then(() => false)]);
    if (!closed) await pool.destroy().catch(() => {});
  }

  private encode(batch: readonly TrackedEvent[]): Buffer {
    if (this.config.format === 'ndjson') return encodeLines(this.codec, batch);
    // A JSON array of the codec's payloads: json payloads are JSON already; line payloads are strings.
    const items = batch.map((e) => {
      const payload = this.codec.encode(e).toString('utf8');
      return this.codec.name === 'json' ? payload : JSON.stringify(payload);
    });
    return Buffer.from(`[${items.join(',')}]`, 'utf8');
  }
}
