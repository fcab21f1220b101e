import { SinkError } from './sink.js';
import type { ColumnMapping } from './sqlColumns.js';

/**
 * The table checks the SQL sinks (postgres, mysql, clickhouse) make at open, after reading
 * the table's columns their own way. Each failure is `fatal` (the config or the table must
 * change) and says what to do; `at` names the server, as the sink's other messages do.
 */

export function noTable(at: string, table: string): SinkError {
  return new SinkError(
    'fatal',
    `${at}: table ${table} does not exist: create it (the DDL is in docs/sinks.md) or set createTable: true`,
    { errorType: 'no_table' },
  );
}

/** Throws when the table lacks a column the mapping writes. */
export function requireMappedColumns(
  at: string,
  table: string,
  mapping: ColumnMapping,
  types: { has(column: string): boolean },
): void {
  const missing = mapping.columns.filter((c) => !types.has(c));
  if (missing.length > 0) {
    throw new SinkError(
      'fatal',
      `${at}: table ${table} has no column ${missing.join(', ')}: add it, or change the sink's "columns" mapping`,
      { errorType: 'no_column' },
    );
  }
}

/** Without a unique key on the id column a redelivered batch would write its rows twice. */
export function noUniqueId(at: string, table: string, mapping: ColumnMapping): SinkError {
  return new SinkError(
    'fatal',
    `${at}: column ${mapping.idColumn} of ${table} must be the primary key (or have a unique index): it takes the event id that keeps redeliveries from writing twice`,
    { errorType: 'no_unique_id' },
  );
}
