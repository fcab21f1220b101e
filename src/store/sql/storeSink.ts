import { EVENT_FIELDS, type EventField } from '../../event/trackedEvent.js';
import { columnMapping, type ColumnMapping } from '../../sinks/sqlColumns.js';

/**
 * Which sink a SQL store reads, and which of its table's columns the queries use. The check
 * runs twice with the same words: at config load (so `check-config` names the problem) and
 * when a reader opens (for configs built in code).
 */

/** The fields every query needs: the key, what to group by, the time, and the payload. */
const REQUIRED: readonly EventField[] = ['id', 'type', 'ts', 'props'];

export interface StoreColumns {
  readonly mapping: ColumnMapping;
  /** The column holding each whole event field the table has (at least id, type, ts, props). */
  readonly field: Readonly<Partial<Record<EventField, string>>> &
    Readonly<Record<'id' | 'type' | 'ts' | 'props', string>>;
}

export interface StoreSinkProblem {
  /** Config path of the value to change. */
  path: (string | number)[];
  message: string;
}

interface SinkLike {
  name?: unknown;
  type?: unknown;
  columns?: unknown;
}

/** Why `store` cannot read from the sink it names, or undefined when it can. */
export function storeSinkProblem(
  store: { type: string; sink: string },
  sinks: readonly SinkLike[],
): StoreSinkProblem | undefined {
  const index = sinks.findIndex((s) => s.name === store.sink);
  if (index < 0) {
    const same = sinks.filter((s) => s.type === store.type).map((s) => String(s.name));
    const hint =
      same.length > 0
        ? `; ${store.type} sinks here: ${same.join(', ')}`
        : `; add a ${store.type} sink named "${store.sink}" (the store reads the table it writes)`;
    return { path: ['store', 'sink'], message: `store.sink "${store.sink}" names no sink${hint}` };
  }
  const sink = sinks[index]!;
  if (sink.type !== store.type) {
    return {
      path: ['store', 'sink'],
      message: `store.sink "${store.sink}" is a ${String(sink.type)} sink but store.type is ${store.type}: name a ${store.type} sink, or set store.type to match`,
    };
  }
  const fields = wholeFields(columnMapping(sink.columns as Record<string, string> | undefined));
  const missing = REQUIRED.filter((f) => fields[f] === undefined);
  if (missing.length > 0) {
    return {
      path: ['sinks', index, 'columns'],
      message: `sink "${store.sink}" maps no column to ${missing.join(', ')}, which the query API reads: add ${missing.map((f) => `${f}: ${f}`).join(', ')} to its columns (and the columns to its table), or drop "columns" to use the default layout`,
    };
  }
  return undefined;
}

/** The columns a store reads; call after storeSinkProblem found nothing. */
export function storeColumns(columns: Record<string, string> | undefined): StoreColumns {
  const mapping = columnMapping(columns);
  const field = wholeFields(mapping);
  for (const f of REQUIRED) if (field[f] === undefined) throw new Error(`store columns: no column takes ${f}`);
  return { mapping, field: field as StoreColumns['field'] };
}

function wholeFields(mapping: ColumnMapping): Partial<Record<EventField, string>> {
  const field: Partial<Record<EventField, string>> = {};
  mapping.sources.forEach((source, i) => {
    // The first column wins when a field is mapped twice: reads only need one copy.
    if ((EVENT_FIELDS as readonly string[]).includes(source) && field[source as EventField] === undefined)
      field[source as EventField] = mapping.columns[i]!;
  });
  return field;
}
