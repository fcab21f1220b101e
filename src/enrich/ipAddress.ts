import { isIP } from 'node:net';

/**
 * IP address arithmetic for anonymisation: parse, keep a prefix, print. Only addresses
 * `net.isIP` accepts are parsed, so the parsers below can assume well-formed input.
 */

/** `fe80::1%eth0` -> `fe80::1`: a zone names an interface of the receiving host, not the client. */
export function withoutZone(ip: string): string {
  const percent = ip.indexOf('%');
  return percent === -1 ? ip : ip.slice(0, percent);
}

/** 4, 6, or 0 for anything that is not an IP address (after dropping a zone). */
export function ipVersion(ip: string): 0 | 4 | 6 {
  return isIP(ip) as 0 | 4 | 6;
}

/** Keeps the first `prefix` bits of a valid IPv4 address: `truncateIpv4('203.0.113.77', 24)` is `203.0.113.0`. */
export function truncateIpv4(ip: string, prefix: number): string {
  const parts = ip.split('.');
  const value =
    ((Number(parts[0]) << 24) | (Number(parts[1]) << 16) | (Number(parts[2]) << 8) | Number(parts[3])) >>> 0;
  const mask = prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  const kept = (value & mask) >>> 0;
  return `${kept >>> 24}.${(kept >>> 16) & 255}.${(kept >>> 8) & 255}.${kept & 255}`;
}

/** Keeps the first `prefix` bits of a valid IPv6 address and prints it as RFC 5952 asks (`2001:db8:85a3::`). */
export function truncateIpv6(ip: string, prefix: number): string {
  const groups = parseIpv6(ip);
  for (let i = 0; i < 8; i++) {
    const bitsKept = Math.min(16, Math.max(0, prefix - i * 16));
    groups[i] = bitsKept === 0 ? 0 : groups[i]! & ((0xffff << (16 - bitsKept)) & 0xffff);
  }
  return formatIpv6(groups);
}

/** The eight 16-bit groups of a valid IPv6 address (zone dropped, dotted IPv4 tail allowed). */
export function parseIpv6(ip: string): number[] {
  let text = withoutZone(ip);
  const tail: number[] = [];
  if (text.includes('.')) {
    // An embedded IPv4 tail (`64:ff9b::192.0.2.1`) is the last two groups.
    const colon = text.lastIndexOf(':');
    const v4 = text
      .slice(colon + 1)
      .split('.')
      .map(Number);
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    text = text.slice(0, colon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const hex = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const double = text.indexOf('::');
  const head = hex(double === -1 ? text : text.slice(0, double));
  const rest = double === -1 ? [] : hex(text.slice(double + 2));
  rest.push(...tail);
  const zeros = Math.max(0, 8 - head.length - rest.length);
  return [...head, ...new Array<number>(zeros).fill(0), ...rest];
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run (two or more) of zero groups as `::`. */
export function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
