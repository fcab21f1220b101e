/**
 * A random UUID (version 4) from crypto.getRandomValues, which, unlike crypto.randomUUID, is
 * also there on plain-HTTP pages. Event ids are the server's idempotency keys and page-view
 * ids group a page's events, so both must be unique, not secret.
 */
export function uuid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  let text = '';
  for (let i = 0; i < 16; i++) {
    text += (bytes[i]! + 256).toString(16).slice(1);
    if (i === 3 || i === 5 || i === 7 || i === 9) text += '-';
  }
  return text;
}
