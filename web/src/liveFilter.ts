/**
 * The live view's filter box, turned into the `/live` query string (docs/live.md): words are
 * event types, `key=value` matches a prop, a bare `key=` means "has this prop", and
 * `bot:false` / `duplicate:true` filter on the enrichment flags. The server does the
 * filtering, so a narrow filter costs the page nothing.
 *
 *   "pageview signup plan=pro bot:false"  ->  type=pageview,signup&where=plan=pro&bot=false
 */
export interface LiveFilter {
  types: string[];
  where: string[];
  bot?: boolean;
  duplicate?: boolean;
}

export class FilterSyntaxError extends Error {}

export function parseFilterBox(text: string): LiveFilter {
  const filter: LiveFilter = { types: [], where: [] };
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    const flag = /^(bot|duplicate):(true|false)$/.exec(word);
    if (flag) {
      filter[flag[1] as 'bot' | 'duplicate'] = flag[2] === 'true';
      continue;
    }
    if (word.includes(',')) throw new FilterSyntaxError(`"${word}": separate terms with spaces, not commas`);
    const eq = word.indexOf('=');
    if (eq === 0) throw new FilterSyntaxError(`"${word}": a prop filter needs a name before "="`);
    if (eq > 0) filter.where.push(word.endsWith('=') ? word.slice(0, -1) : word);
    else if (/^(bot|duplicate):/.test(word))
      throw new FilterSyntaxError(`"${word}": use ${word.split(':')[0]}:true or ${word.split(':')[0]}:false`);
    else filter.types.push(word);
  }
  return filter;
}

/** The `/live` query parameters for a filter (without the token). */
export function filterQuery(filter: LiveFilter): URLSearchParams {
  const q = new URLSearchParams();
  if (filter.types.length > 0) q.set('type', filter.types.join(','));
  if (filter.where.length > 0) q.set('where', filter.where.join(','));
  if (filter.bot !== undefined) q.set('bot', String(filter.bot));
  if (filter.duplicate !== undefined) q.set('duplicate', String(filter.duplicate));
  return q;
}
