import type { Logger } from 'pino';
import type { AdminRequest } from './adminRequest.js';

/**
 * The audit trail of admin actions: one JSON log line (`"audit": true`, message
 * `admin action`) per state-changing request (every POST), whatever its outcome, and per
 * refused request to an admin-scope endpoint. It says who (the token's name; `anonymous` when
 * no tokens are configured; `unknown` when no valid token came), what (method and path), when (the line's `time`), from
 * where (the TCP peer, plus `X-Forwarded-For` as sent, which only a trusted proxy makes
 * meaningful) and how it ended (status). It never holds the token or the request body.
 */
export interface AuditEntry {
  who: string;
  req: AdminRequest;
  status: number;
  /** For refusals: the error code. */
  code?: string;
}

export type Audit = (entry: AuditEntry) => void;

export function createAudit(logger: Logger): Audit {
  const log = logger.child({ component: 'audit' });
  return ({ who, req, status, code }) => {
    const forwardedFor = req.headers['x-forwarded-for'];
    log.info(
      {
        audit: true,
        who,
        action: `${req.method} ${req.path}`,
        status,
        ...(code ? { code } : {}),
        ip: req.remoteAddress,
        ...(forwardedFor ? { forwardedFor } : {}),
      },
      'admin action',
    );
  };
}
