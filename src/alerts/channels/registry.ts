import type { ChannelDefinition } from './channel.js';
import { emailChannel } from './email/index.js';
import { webhookChannel } from './webhook/index.js';

/** Every alert channel type; the `alerts.channels` config schema is built from this list. */
export const CHANNEL_DEFINITIONS = [emailChannel, webhookChannel] as const satisfies readonly ChannelDefinition[];

export function findChannelDefinition(type: string): ChannelDefinition | undefined {
  return CHANNEL_DEFINITIONS.find((d) => d.type === type);
}
