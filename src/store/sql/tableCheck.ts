import { BeaconError } from '../../errors/beaconError.js';
import type { StoreColumns } from './storeSink.js';

/**
 * What every SQL store says about the sink's table, in the same words on every server: when
 * it describes the table (missing, a mapped column missing, a column of a type its dialect
 * cannot read) and when a query fails on it (table or column gone, no grant). What differs
 * per server is which column types its dialect reads and how it names them.
 */
export interface DescribedTable {
  /** Where it was described, e.g. `postgres 127.0.0.1:5432/test`. */
  at: string;
  /** The table as the messages name it. */
  table: string;
  /** The name of the sink that writes it. */
  sink: string;
}

export interface ColumnTypes {
  /** Whether the dialect reads times (ts, clientTs) from a column of this type. */
  time(type: string): boolean;
  /** The time types it reads, as the message names them. */
  timeTypes: string;
  /** Whether the dialect reads props and meta from a column of this type. */
  json(type: string): boolean;
  /** The JSON types it reads, as the message names them. */
  jsonTypes: string;
}

/** BEACON_E_STORE_QUERY for a table that is not there (yet). */
export function tableMissing(t: DescribedTable): BeaconError {
  return new BeaconError(
    'BEACON_E_STORE_QUERY',
    `${t.at}: table ${t.table} does not exist (yet): the sink "${t.sink}" creates it when it has createTable: true, or create it (the DDL is in docs/sinks.md)`,
  );
}

/**
 * Throws BEACON_E_STORE_QUERY, saying what to change, when the table (its column types by
 * name) lacks a column the sink maps or has one of a type the dialect cannot read.
 */
export function checkColumns(
  t: DescribedTable,
  types: ReadonlyMap<string, string>,
  columns: StoreColumns,
  readable: ColumnTypes,
): void {
  const missing = Object.values(columns.field).filter((c) => !types.has(c));
  if (missing.length > 0) {
    throw new BeaconError(
      'BEACON_E_STORE_QUERY',
      `${t.at}: table ${t.table} has no column ${missing.join(', ')}, which the sink "${t.sink}" maps: add it to the table, or change the sink's "columns"`,
    );
  }
  for (const field of ['ts', 'clientTs'] as const) {
    const column = columns.field[field];
    if (column !== undefined && !readable.time(types.get(column)!)) {
      throw new BeaconError(
        'BEACON_E_STORE_QUERY',
        `${t.at}: column ${column} of ${t.table} is ${types.get(column)}; the query API reads times from ${readable.timeTypes}: change the column type`,
      );
    }
  }
  for (const field of ['props', 'meta'] as const) {
    const column = columns.field[field];
    if (column !== undefined && !readable.json(types.get(column)!)) {
      throw new BeaconError(
        'BEACON_E_STORE_QUERY',
        `${t.at}: column ${column} of ${t.table} is ${types.get(column)}; the query API reads ${field} from ${readable.jsonTypes}: change the column type`,
      );
    }
  }
}

/** What to do when a query fails because the table changed under the store (for `explain`). */
export function tableHints(table: string, sink: string): { tableGone: string; columnGone: string; noGrant: string } {
  return {
    tableGone: `table ${table} is gone: create it again (the DDL is in docs/sinks.md) or let the sink "${sink}" create it with createTable: true`,
    columnGone: `a column of ${table} that the sink "${sink}" maps is gone: add it back, or change the sink's "columns"`,
    noGrant: `grant the store's user SELECT on ${table}`,
  };
}
