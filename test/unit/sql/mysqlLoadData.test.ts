import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../../src/sql/mysql.js';
import { loadDataBatch, loadDataField } from '../../../src/sql/mysqlLoadData.js';

const TYPES = ['varchar', 'datetime', 'timestamp', 'date', 'json', 'longtext', 'bigint', 'tinyint'];

/** The plain way: every value through the sink's encoder, then written as one text field. */
function perValue(rows: unknown[][]): string {
  return rows.map((row) => `${row.map((v, i) => loadDataField(encode(v, TYPES[i]!))).join('\t')}\n`).join('');
}

function batch(rows: unknown[][]): string {
  const sources = TYPES.map((_, i) => (row: unknown[]) => row[i]);
  return Buffer.concat([...loadDataBatch(rows, sources, TYPES, encode)]).toString('utf8');
}

test('the batch encoder writes exactly what encoding each value on its own writes', () => {
  const tricky = ['tab\there', 'line\nbreak\r\n', 'back\\slash', '\\N', 'NULL', 'nul\0 ctrl-z \x1a', 'ü ✓ 😀', ''];
  const times = [0, 1, 999, 1000, 1_700_000_000_000, 1_700_000_000_007, 1_700_000_000_070, 1_700_000_001_500, -1, 1.5];
  const rows: unknown[][] = [];
  for (let i = 0; i < 400; i++) {
    const text = tricky[i % tricky.length]!;
    const ms = times[i % times.length]!;
    rows.push([
      i % 7 === 0 ? undefined : text,
      i % 5 === 0 ? null : ms,
      ms,
      ms + 86_400_000 * i,
      i % 3 === 0 ? { text, nested: { again: text, n: i, ok: true } } : i % 3 === 1 ? null : [text, 'quote "'],
      text,
      i,
      i % 2 === 0,
    ]);
  }
  rows.push(['far', 253_402_300_799_999, 253_402_300_800_000, 8.64e15, 'a "string" with \\ and \n', null, null, null]);
  assert.equal(batch(rows), perValue(rows));
});

test('the batch encoder cuts a large batch into chunks only between rows', () => {
  const rows = Array.from({ length: 5000 }, (_, i) => [
    `id-${i}`,
    1_700_000_000_000 + i,
    0,
    0,
    { i },
    'x'.repeat(50),
    i,
    true,
  ]);
  const sources = TYPES.map((_, i) => (row: unknown[]) => row[i]);
  const chunks = [...loadDataBatch(rows, sources, TYPES, encode)];
  assert.ok(chunks.length > 1, 'several chunks');
  for (const chunk of chunks) assert.equal(chunk.toString('utf8').at(-1), '\n');
  assert.equal(Buffer.concat(chunks).toString('utf8'), perValue(rows));
});
