import { readFile } from 'node:fs/promises';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { freePort } from './freePort.js';

/** One message as the server received it, headers unfolded and the body decoded. */
export interface ReceivedMail {
  /** Envelope sender and recipients (MAIL FROM, RCPT TO). */
  envelope: { from: string; to: string[] };
  /** Header names in lower case; the last value wins. */
  headers: Record<string, string>;
  /** The text body, quoted-printable or base64 decoded. */
  text: string;
  /** The user the client authenticated as, if any. */
  user: string | undefined;
  /** Whether the session was upgraded to (or started with) TLS. */
  secure: boolean;
}

export interface SmtpReceiver {
  port: number;
  readonly mails: ReceivedMail[];
  /** Answer the next `n` DATA commands with this SMTP reply (e.g. 451 for "try again later"). */
  failNext(n: number, code: number, message: string): void;
  stop(): Promise<void>;
}

/**
 * A real SMTP server (the `smtp-server` package) on a free port, for the email channel's tests:
 * STARTTLS with the given certificate, AUTH PLAIN/LOGIN against one user, every message parsed
 * and kept. `secure: true` speaks TLS from the first byte instead.
 */
export async function startSmtpReceiver(
  options: {
    cert?: string;
    key?: string;
    user?: string;
    password?: string;
    secure?: boolean;
    /** Neither offer nor accept STARTTLS. */ hideStartTls?: boolean;
  } = {},
): Promise<SmtpReceiver> {
  const port = await freePort();
  const mails: ReceivedMail[] = [];
  let failing: { n: number; code: number; message: string } | undefined;
  const tls =
    options.cert && options.key ? { cert: await readFile(options.cert), key: await readFile(options.key) } : {};
  const serverOptions: SMTPServerOptions = {
    ...tls,
    secure: options.secure ?? false,
    hideSTARTTLS: options.hideStartTls ?? false,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: options.user === undefined,
    // Only for the test that checks the client itself refuses to send a password in clear.
    allowInsecureAuth: options.hideStartTls ?? false,
    disabledCommands: options.hideStartTls ? ['STARTTLS'] : [],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.password)
        return callback(null, { user: auth.username });
      const err = new Error('Invalid username or password') as Error & { responseCode: number };
      err.responseCode = 535;
      return callback(err);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (failing && failing.n > 0) {
          failing.n--;
          const err = new Error(failing.message) as Error & { responseCode: number };
          err.responseCode = failing.code;
          return callback(err);
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          ...parseMail(raw),
          envelope: {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          user: typeof session.user === 'string' ? session.user : undefined,
          secure: session.secure,
        });
        callback();
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    mails,
    failNext: (n, code, message) => (failing = { n, code, message }),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Headers and decoded text of a single-part text message (what the email channel sends). */
export function parseMail(raw: string): { headers: Record<string, string>; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.slice(split + 4);
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  if (encoding === 'quoted-printable') {
    body = Buffer.from(
      body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  } else if (encoding === 'base64') {
    body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  }
  return { headers, text: body.replace(/\r\n/g, '\n') };
}
