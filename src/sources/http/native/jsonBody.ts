import type { Rejection } from '../../../event/rejection.js';

export type MediaKind = 'json' | 'ndjson' | 'unsupported';

/** How a native endpoint reads a body of this Content-Type. */
export function mediaKind(header: string | undefined): MediaKind {
  // No Content-Type: curl -d sends form encoding, but a body-less beacon sends nothing; read it as JSON.
  if (header === undefined) return 'json';
  const semicolon = header.indexOf(';');
  const type = (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  switch (type) {
    case 'application/json':
    case 'text/plain':
    case '':
      return 'json';
    case 'application/x-ndjson':
    case 'application/ndjson':
    case 'application/jsonl':
    case 'application/x-jsonlines':
    case 'application/jsonlines':
      return 'ndjson';
    default:
      return type.endsWith('+json') ? 'json' : 'unsupported';
  }
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function parseJson(text: string): { value: unknown } | Rejection {
  try {
    return { value: JSON.parse(stripBom(text)) as unknown };
  } catch (err) {
    return { code: 'BEACON_E_BAD_JSON', message: `invalid JSON: ${(err as Error).message.slice(0, 200)}` };
  }
}
