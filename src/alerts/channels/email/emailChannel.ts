import { readFileSync } from 'node:fs';
import type Nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { BeaconError } from '../../../errors/beaconError.js';
import { bodyText, subjectLine, type AlertNotification } from '../../notification.js';
import { ChannelError, type AlertChannel } from '../channel.js';
import type { EmailChannelConfig } from './index.js';
import { lazyRequire } from '../../../net/lazyRequire.js';

const nodemailer = lazyRequire<typeof Nodemailer>('nodemailer');

/** SMTP reply codes (and nodemailer error codes) after which the same message would fail again. */
function isPermanent(err: { code?: string; responseCode?: number }): boolean {
  if (err.code === 'EAUTH') return true;
  return err.responseCode !== undefined && err.responseCode >= 500 && err.responseCode < 600;
}

/** Message-IDs tie a firing, its reminders and its resolution into one thread in mail clients. */
function messageId(episode: string, suffix: string, host: string): string {
  return `<beacon-alert.${episode.replace(/[^A-Za-z0-9.-]/g, '_')}${suffix}@${host.replace(/[^A-Za-z0-9.-]/g, '_') || 'beacon'}>`;
}

export class EmailChannel implements AlertChannel {
  readonly name: string;
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;

  constructor(private readonly config: EmailChannelConfig) {
    this.name = config.name;
    const starttls = config.starttls ?? (config.auth ? 'required' : 'offered');
    let ca: string | undefined;
    if (config.ca) {
      try {
        ca = readFileSync(config.ca, 'utf8');
      } catch (err) {
        throw new BeaconError(
          'BEACON_E_CONFIG_FIELD',
          `alerts.channels "${config.name}".ca: cannot read ${config.ca} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          { field: 'ca' },
        );
      }
    }
    const options: SMTPTransport.Options = {
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: !config.secure && starttls === 'required',
      ignoreTLS: !config.secure && starttls === 'off',
      connectionTimeout: config.timeout,
      greetingTimeout: config.timeout,
      socketTimeout: config.timeout,
      dnsTimeout: config.timeout,
      tls: { rejectUnauthorized: config.verifyCertificate, ...(ca ? { ca } : {}) },
      ...(config.auth ? { auth: { user: config.auth.user, pass: config.auth.password } } : {}),
    };
    this.transport = nodemailer().createTransport(options);
  }

  async send(n: AlertNotification): Promise<void> {
    const thread = messageId(n.episode, '', n.beacon.host);
    const first = n.status === 'firing' && !n.reminder;
    try {
      await this.transport.sendMail({
        from: this.config.from,
        to: this.config.to,
        subject: subjectLine(n, this.config.subjectPrefix),
        text: bodyText(n),
        messageId: first ? thread : messageId(n.episode, `.${n.status}.${n.at}`, n.beacon.host),
        ...(first ? {} : { inReplyTo: thread, references: [thread] }),
        headers: { 'X-Beacon-Alert': n.status, 'X-Beacon-Rule': n.rule, 'X-Beacon-Alert-Type': n.type },
      });
    } catch (err) {
      const e = err as Error & { code?: string; responseCode?: number };
      const reply = e.responseCode ? ` (SMTP ${e.responseCode})` : e.code ? ` (${e.code})` : '';
      throw new ChannelError(
        `sending mail via ${this.config.host}:${this.config.port} failed${reply}: ${e.message}`,
        isPermanent(e),
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
