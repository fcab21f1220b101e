/**
 * The durable consumer name of a cursor (a sink name). Sink names may hold `.`, which a
 * consumer name may not; the mapping is one-to-one so two sinks never share a consumer:
 * letters, digits and `-` stay, `_` becomes `__`, and any other character `_<hex code>_`
 * (`web.hook` → `web_2e_hook`).
 */
export function consumerNameFor(cursorName: string): string {
  let out = '';
  for (const ch of cursorName) {
    if (/[A-Za-z0-9-]/.test(ch)) out += ch;
    else if (ch === '_') out += '__';
    else out += `_${ch.codePointAt(0)!.toString(16)}_`;
  }
  return out;
}
