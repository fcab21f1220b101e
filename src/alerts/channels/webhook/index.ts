import { z } from 'zod';
import { duration } from '../../../config/units.js';
import { channelConfigSchema, type ChannelDefinition } from '../channel.js';
import { WebhookChannel } from './webhookChannel.js';

export const webhookChannelSchema = channelConfigSchema('webhook', {
  /** Where each message is POSTed as JSON (a chat tool's incoming webhook, an on-call service, your own endpoint). Redacted by the admin API: such URLs often hold a token. */
  url: z.url({ protocol: /^https?$/ }),
  /** Extra request headers, e.g. Authorization. Redacted by check-config and the admin API. */
  headers: z.record(z.string(), z.string()).default({}),
  /** One attempt (connect, send, answer) must finish within this. */
  timeout: duration().default(10_000),
});

export type WebhookChannelConfig = z.output<typeof webhookChannelSchema>;

/** `webhook`: a JSON POST per message (docs/alerts.md shows the shape). */
export const webhookChannel: ChannelDefinition<typeof webhookChannelSchema> = {
  type: 'webhook',
  configSchema: webhookChannelSchema,
  secretKeys: ['url', 'headers'],
  create: (config) => new WebhookChannel(config),
};
