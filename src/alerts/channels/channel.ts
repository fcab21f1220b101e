import { z } from 'zod';
import type { Logger } from 'pino';
import type { TypeOf } from '../../config/partsSchema.js';
import { duration } from '../../config/units.js';
import type { AlertNotification } from '../notification.js';

/**
 * The seam between the alert engine and a way of telling people. A channel's `send` makes one
 * attempt and throws a ChannelError saying whether another attempt could succeed; retries,
 * back-off, ordering and shutdown live once, in channelQueue.ts.
 */
export interface AlertChannel {
  readonly name: string;
  send(notification: AlertNotification): Promise<void>;
  close(): Promise<void>;
}

/** A failed attempt. `permanent`: the same message would fail again (bad credentials, a 4xx), so it is not retried. */
export class ChannelError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChannelError';
  }
}

export interface ChannelContext {
  logger: Logger;
}

export interface ChannelDefinition<S extends z.ZodObject = z.ZodObject> {
  /** The config `type` value: the literal of its config schema. */
  type: TypeOf<S>;
  configSchema: S;
  /** Dotted keys whose values are secrets: redacted by check-config and GET /api/v1/config. */
  secretKeys: readonly string[];
  create(config: z.output<S>, context: ChannelContext): AlertChannel;
}

/** Channel names are how rules refer to channels, and label the notification metrics. */
export const channelNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'letters, digits and _ . - (at most 64, starting with a letter or digit)',
  );

/** A channel's strict schema: the fields every channel has plus its own, keyed by `type`. */
export function channelConfigSchema<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({
    name: channelNameSchema,
    type: z.literal(type),
    /** How long a message that fails to send is retried (with back-off from 1 s to 1 min) before it is dropped and logged. */
    retryFor: duration().default(10 * 60_000),
    ...shape,
  });
}
