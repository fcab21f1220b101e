import { z } from 'zod';
import { EVENT_FIELDS, type TrackedEvent } from '../event/trackedEvent.js';

/**
 * Which event value goes into which table column, shared by the SQL sinks (postgres, mysql).
 *
 * A mapping is `{ <column>: <source> }`; a source is a top-level event field (`id`, `type`,
 * `ts`, `clientTs`, `partyId`, ...), `props` or `meta` whole, or a path into them
 * (`props.plan`, `meta.geo.country`). Exactly one column takes `id`: it is the conflict key
 * that makes a redelivered batch write nothing twice.
 */
export const DEFAULT_COLUMNS: Readonly<Record<string, string>> = Object.fromEntries(
  EVENT_FIELDS.map((field) => [field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), field]),
);

const TOP_LEVEL: readonly string[] = EVENT_FIELDS;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const PATH = /^(props|meta)(\.[A-Za-z0-9_$-]+)+$/;

/** What kind of value a source yields; decides the column type `createTable` uses. */
export type SourceKind = 'id' | 'text' | 'longText' | 'time' | 'json';

export function sourceKind(source: string): SourceKind {
  if (source === 'id') return 'id';
  if (source === 'ts' || source === 'clientTs') return 'time';
  if (source === 'props' || source === 'meta' || PATH.test(source)) return 'json';
  if (source === 'ua' || source === 'url' || source === 'referrer') return 'longText';
  return 'text';
}

/** Whether the event always has this source (so `createTable` makes the column NOT NULL). */
export function alwaysPresent(source: string): boolean {
  return source === 'id' || source === 'type' || source === 'ts' || source === 'props' || source === 'meta';
}

/**
 * The column lines of `createTable`'s CREATE TABLE: each column quoted, with the dialect's
 * type for its source's kind, NOT NULL where the event always has the value (the id type
 * carries its own key constraint), then `receivedAt` unless the mapping has that column.
 */
export function createColumnLines(
  mapping: ColumnMapping,
  quoteIdent: (name: string) => string,
  types: Readonly<Record<SourceKind, string>>,
  receivedAt: string,
): string[] {
  const lines = mapping.columns.map((column, i) => {
    const source = mapping.sources[i]!;
    const notNull = alwaysPresent(source) && source !== 'id' ? ' NOT NULL' : '';
    return `${quoteIdent(column)} ${types[sourceKind(source)]}${notNull}`;
  });
  if (!mapping.columns.includes('received_at')) lines.push(receivedAt);
  return lines;
}

export function valueAt(event: TrackedEvent, source: string): unknown {
  // Called for every column of every row: a top-level field needs no split (and no garbage).
  if (!source.includes('.')) return (event as unknown as Record<string, unknown>)[source];
  let value: unknown = event;
  for (const key of source.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A table name: `table` or `schema.table`, letters, digits and `_` (each part used quoted, as written). */
export const tableName = () =>
  z
    .string()
    .regex(
      /^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/,
      'a table name such as events or analytics.events (letters, digits, _)',
    );

/** The `columns` option: `{ <column>: <source> }`, replacing the default mapping when given. */
export const columnsOption = () =>
  z
    .record(z.string().regex(IDENTIFIER, 'a column name: letters, digits, _ (at most 63)'), z.string())
    .superRefine((columns, ctx) => {
      for (const [column, source] of Object.entries(columns)) {
        if (!TOP_LEVEL.includes(source) && !PATH.test(source)) {
          ctx.addIssue({
            code: 'custom',
            path: [column],
            message: `"${source}" is not an event field: use one of ${TOP_LEVEL.join(', ')}, or a path such as props.plan or meta.geo.country`,
          });
        }
      }
      const ids = Object.entries(columns).filter(([, source]) => source === 'id');
      if (ids.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          message: `exactly one column must take the event "id" (the conflict key that keeps redeliveries from writing twice); found ${ids.length}`,
        });
      }
    })
    .optional();

export interface ColumnMapping {
  /** Column names in insert order. */
  readonly columns: readonly string[];
  /** Source of each column, same order. */
  readonly sources: readonly string[];
  /** The column that takes the event id. */
  readonly idColumn: string;
}

export function columnMapping(columns: Record<string, string> | undefined): ColumnMapping {
  const entries = Object.entries(columns ?? DEFAULT_COLUMNS);
  return {
    columns: entries.map(([c]) => c),
    sources: entries.map(([, s]) => s),
    idColumn: entries.find(([, s]) => s === 'id')![0],
  };
}

/** Connection options both SQL sinks share; `url` and the discrete fields are exclusive. */
export function connectionConflict(config: {
  url?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  user?: string | undefined;
  password?: string | undefined;
  database?: string | undefined;
}): string | undefined {
  if (config.url === undefined) return undefined;
  const both = (['host', 'port', 'user', 'password', 'database'] as const).filter((k) => config[k] !== undefined);
  return both.length > 0 ? `set either "url" or ${both.map((k) => `"${k}"`).join(', ')}, not both` : undefined;
}
