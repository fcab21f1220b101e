import { z } from 'zod';
import { duration } from '../../../config/units.js';
import { channelConfigSchema, type ChannelDefinition } from '../channel.js';
import { EmailChannel } from './emailChannel.js';

/** An address as mail clients write it: `ops@example.com` or `Beacon <beacon@example.com>`. */
const address = z
  .string()
  .regex(
    /^[^@\s<>]+@[^@\s<>]+$|^[^<>]*<[^@\s<>]+@[^@\s<>]+>$/,
    'an email address such as ops@example.com or "Beacon <beacon@example.com>"',
  );

export const emailChannelSchema = channelConfigSchema('email', {
  /** SMTP server (your mail relay, or a provider's submission host). */
  host: z.string().min(1),
  /** 587 for submission with STARTTLS, 465 with `secure: true`, 25 for a local relay. */
  port: z.number().int().min(1).max(65_535).default(587),
  /** TLS from the first byte (SMTPS, usually port 465); false: plain connection, upgraded with STARTTLS per `starttls`. */
  secure: z.boolean().default(false),
  /**
   * With `secure: false`: `required` refuses to send unless the server upgrades with STARTTLS;
   * `offered` upgrades when the server offers it; `off` never upgrades. Default: `required` when
   * `auth` is set (a password never crosses the network in clear), else `offered`.
   */
  starttls: z.enum(['required', 'offered', 'off']).optional(),
  /** PEM file of the CA that signed the server's certificate (a private mail server). */
  ca: z.string().min(1).optional(),
  /** Check the server's certificate and name; turn off only for a test server. */
  verifyCertificate: z.boolean().default(true),
  /** SMTP AUTH (PLAIN/LOGIN). The password is redacted by check-config and the admin API. */
  auth: z.strictObject({ user: z.string().min(1), password: z.string() }).optional(),
  /** The sender, e.g. `Beacon <beacon@example.com>`. */
  from: address,
  /** Recipients. */
  to: z.array(address).min(1),
  /** Put before every subject; empty for none. */
  subjectPrefix: z.string().default('[beacon]'),
  /** Connecting, the greeting and each SMTP step must each finish within this. */
  timeout: duration().default(15_000),
});

export type EmailChannelConfig = z.output<typeof emailChannelSchema>;

/** `email`: plain-text mail over SMTP (nodemailer), one message per firing, reminder and resolution. */
export const emailChannel: ChannelDefinition<typeof emailChannelSchema> = {
  type: 'email',
  configSchema: emailChannelSchema,
  secretKeys: ['auth.password'],
  create: (config) => new EmailChannel(config),
};
