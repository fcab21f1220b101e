/**
 * How many bytes `text` takes in UTF-8, without encoding it: the unit of the 64 KiB that
 * keepalive fetches and sendBeacon may carry (`.length` counts UTF-16 units, a third of the
 * bytes of CJK text). A lone surrogate counts 2 bytes instead of TextEncoder's 3 (U+FFFD); the
 * tracker measures JSON.stringify output, which escapes lone surrogates, so that never happens.
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // U+0080-U+07FF: 2 bytes; the rest of the BMP: 3; a surrogate pair (2 units): 4.
    if (unit > 0x7f) bytes += unit > 0x7ff && (unit < 0xd800 || unit > 0xdfff) ? 2 : 1;
  }
  return bytes;
}
