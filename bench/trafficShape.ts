/**
 * Client traffic as real sites see it, shared by the enrichment benches: a few hundred distinct
 * user agents and a few thousand client addresses, drawn with a skew (a few agents and
 * addresses are most of the traffic).
 */

const TEMPLATES = [
  (v: number) =>
    `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${100 + (v % 30)}.0.${v}.0 Safari/537.36`,
  (v: number) =>
    `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${15 + (v % 4)}.${v % 7} Safari/605.1.15`,
  (v: number) =>
    `Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:${100 + (v % 25)}.0) Gecko/20100101 Firefox/${100 + (v % 25)}.${v % 3}`,
  (v: number) =>
    `Mozilla/5.0 (iPhone; CPU iPhone OS 17_${v % 6} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${v % 6} Mobile/15E${148 + v} Safari/604.1`,
  (v: number) =>
    `Mozilla/5.0 (Linux; Android ${10 + (v % 5)}; SM-G9${v % 100}0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${110 + (v % 10)}.0.0.0 Mobile Safari/537.36`,
  (v: number) => `Mozilla/5.0 (compatible; Googlebot/2.${v % 3}; +http://www.google.com/bot.html)`,
];

/** The n-th distinct user agent. */
export function userAgent(n: number): string {
  return TEMPLATES[n % TEMPLATES.length]!(Math.floor(n / TEMPLATES.length));
}

/** The n-th client address, spread over 1.0.0.0 - 223.255.255.255 (a few are private, as in real traffic). */
export function publicIp(n: number): string {
  const x = (Math.imul(n + 1, 2_654_435_761) >>> 0) % (223 * 2 ** 24);
  const v = x + 2 ** 24;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** A skewed pick in [0, n): the square of a uniform number favours small indexes (rank 0 is ~7% of draws for n=200). */
export function skewed(n: number): number {
  const u = Math.random();
  return Math.floor(u * u * n);
}

/** Distinct user agents and addresses in the `typical` shape. */
export const TYPICAL_AGENTS = 600;
export const TYPICAL_ADDRESSES = 5000;
