import type { IncomingMessage } from 'node:http';

/** True when the browser asks not to be tracked: `DNT: 1` (Do Not Track) or `Sec-GPC: 1` (Global Privacy Control). */
export function hasPrivacySignal(req: IncomingMessage): boolean {
  const headers = req.headers;
  return headers.dnt === '1' || headers['sec-gpc'] === '1';
}
