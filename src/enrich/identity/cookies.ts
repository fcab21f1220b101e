/**
 * The two things the collector does with cookies: read one value from a `Cookie` header and
 * write a `Set-Cookie` line. Values are ids Beacon made, so only that alphabet is read back: a
 * value someone edited into something else is ignored and replaced.
 */

/** What a cookie value must look like to be taken as an id: UUIDs and other url-safe tokens. */
const ID_VALUE = /^[A-Za-z0-9_-]{8,64}$/;

/** The value of the first cookie called `name` in a Cookie header, if it looks like an id. */
export function readIdCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length === 0) return undefined;
  const key = `${name}=`;
  let start = 0;
  while (start < header.length) {
    while (header.charCodeAt(start) === 0x20) start++;
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    if (header.startsWith(key, start)) {
      let value = header.slice(start + key.length, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return ID_VALUE.test(value) ? value : undefined;
    }
    start = end + 1;
  }
  return undefined;
}

export interface CookieAttributes {
  domain: string | undefined;
  sameSite: 'Lax' | 'Strict' | 'None';
}

/**
 * The attributes every identity cookie carries after `Max-Age`: always `Path=/` (a pixel path
 * and /batch must see the same cookie) and `HttpOnly` (page scripts, including the tracker,
 * never need to read the ids; the collector assigns them).
 */
export function cookieSuffix(attributes: CookieAttributes): string {
  let suffix = '; Path=/; HttpOnly; SameSite=' + attributes.sameSite;
  if (attributes.domain !== undefined) suffix += '; Domain=' + attributes.domain;
  return suffix;
}

/** One Set-Cookie line. `maxAgeSeconds` 0 deletes the cookie. */
export function setCookieLine(
  name: string,
  value: string,
  maxAgeSeconds: number,
  suffix: string,
  secure: boolean,
): string {
  return `${name}=${value}; Max-Age=${maxAgeSeconds}${suffix}${secure ? '; Secure' : ''}`;
}

/** `setCookieLine` for one cookie name and max age, its text around the value built once. */
export function cookieLineTemplate(
  name: string,
  maxAgeSeconds: number,
  suffix: string,
): { of(value: string, secure: boolean): string } {
  const head = `${name}=`;
  const plain = setCookieLine('', '', maxAgeSeconds, suffix, false).slice(1);
  const secured = setCookieLine('', '', maxAgeSeconds, suffix, true).slice(1);
  return { of: (value, secure) => head + value + (secure ? secured : plain) };
}
