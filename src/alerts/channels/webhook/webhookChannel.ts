import type * as Undici from 'undici';
import type { AlertNotification } from '../../notification.js';
import { ChannelError, type AlertChannel } from '../channel.js';
import type { WebhookChannelConfig } from './index.js';
import { webhookPayload } from './payload.js';
import { lazyRequire } from '../../../net/lazyRequire.js';

const undici = lazyRequire<typeof Undici>('undici');

/** 408 and 429 say "later"; every other 4xx says the request itself is wrong. */
function isPermanentStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

export class WebhookChannel implements AlertChannel {
  readonly name: string;
  private readonly origin: string;

  constructor(private readonly config: WebhookChannelConfig) {
    this.name = config.name;
    // Error messages name the host only: the path of a chat webhook is its secret.
    this.origin = new URL(config.url).origin;
  }

  async send(n: AlertNotification): Promise<void> {
    const body = JSON.stringify(webhookPayload(n));
    let status: number;
    let answer = '';
    try {
      const res = await undici().request(this.config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': `beacon/${n.beacon.version}`,
          ...this.config.headers,
        },
        body,
        signal: AbortSignal.timeout(this.config.timeout),
      });
      status = res.statusCode;
      answer = (await res.body.text()).slice(0, 200);
    } catch (err) {
      const e = err as Error & { code?: string; cause?: { code?: string } };
      const why =
        e.name === 'TimeoutError' || e.name === 'AbortError'
          ? `no answer within ${this.config.timeout} ms`
          : (e.code ?? e.cause?.code ?? e.message);
      throw new ChannelError(`POST to ${this.origin} failed: ${why}`, false, { cause: err });
    }
    if (status >= 200 && status < 300) return;
    throw new ChannelError(
      `POST to ${this.origin} answered ${status}${answer ? `: ${answer}` : ''}`,
      isPermanentStatus(status),
    );
  }

  async close(): Promise<void> {}
}
