/**
 * Identifier quoting for the dialects that escape the quote character by doubling it
 * (PostgreSQL's `"`, MySQL's backtick). A table name may be `schema.table`: each part is
 * quoted on its own. ClickHouse escapes with backslashes instead (sql/clickhouse.ts).
 */
export function doubledQuoting(quote: '"' | '`') {
  const quoteIdent = (name: string): string => `${quote}${name.replaceAll(quote, quote + quote)}${quote}`;
  const quoteTable = (table: string): string => table.split('.').map(quoteIdent).join('.');
  return { quoteIdent, quoteTable };
}
