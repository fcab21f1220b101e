import type { IncomingMessage } from 'node:http';
import type { RequestFacts } from '../../event/fromSubmitted.js';
import type { ResendMarks } from '../../event/resendMarks.js';

/** The facts of an HTTP request that every event from it shares: receive time, client address, headers. */

/** `marks`: where events with a client-given id are marked for the id memory (the enrichment chain's). */
export function requestFacts(req: IncomingMessage, trustProxy: boolean, ts: number, marks?: ResendMarks): RequestFacts {
  const headers = req.headers;
  return { ts, ip: clientIp(req, trustProxy), ua: headers['user-agent'], referer: headers.referer, marks };
}

/** The socket's peer, or the first X-Forwarded-For hop (the original client) behind a trusted proxy. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    if (typeof forwarded === 'string') {
      const comma = forwarded.indexOf(',');
      const first = (comma === -1 ? forwarded : forwarded.slice(0, comma)).trim();
      if (first.length > 0) return unmapIpv4(first);
    }
  }
  const remote = req.socket.remoteAddress;
  return remote === undefined ? undefined : unmapIpv4(remote);
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is reported as `10.0.0.1`. */
function unmapIpv4(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
