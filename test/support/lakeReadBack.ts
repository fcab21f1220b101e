import { gunzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';

const OPTIONAL = ['partyId', 'sessionId', 'pageViewId', 'ip', 'ua', 'url', 'referrer'] as const;

/** Decodes lake objects (Parquet files read by DuckDB, or NDJSON, gzip'd or not) back into events, file by file in the given order. */
export async function readLakeFiles(paths: readonly string[]): Promise<TrackedEvent[]> {
  const out: TrackedEvent[] = [];
  const parquet = paths.filter((p) => p.endsWith('.parquet'));
  const rows = parquet.length > 0 ? await readParquet(parquet) : new Map<string, TrackedEvent[]>();
  const { readFileSync } = await import('node:fs');
  for (const path of paths) {
    if (path.endsWith('.parquet')) out.push(...(rows.get(path) ?? []));
    else {
      const bytes = readFileSync(path);
      const text = (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
      for (const line of text.split('\n')) if (line.trim() !== '') out.push(JSON.parse(line) as TrackedEvent);
    }
  }
  return out;
}

/** Rows of each Parquet file as events, in file order (DuckDB's read_parquet with the file name). */
async function readParquet(paths: readonly string[]): Promise<Map<string, TrackedEvent[]>> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  try {
    const list = paths.map((p) => `'${p.replace(/'/g, "''")}'`).join(', ');
    const reader = await connection.runAndReadAll(
      `SELECT filename, id, type, epoch_ms(ts) AS ts, clientTs, ${OPTIONAL.join(', ')}, props::VARCHAR AS props, meta::VARCHAR AS meta FROM read_parquet([${list}], filename = true)`,
    );
    const byFile = new Map<string, TrackedEvent[]>();
    for (const row of reader.getRowObjectsJS()) {
      const event: TrackedEvent = {
        id: String(row.id),
        type: String(row.type),
        ts: Number(row.ts),
        props: JSON.parse(String(row.props)) as Record<string, unknown>,
        meta: JSON.parse(String(row.meta)) as TrackedEvent['meta'],
      };
      if (row.clientTs !== null && row.clientTs !== undefined) event.clientTs = Number(row.clientTs);
      for (const f of OPTIONAL) if (row[f] !== null && row[f] !== undefined) event[f] = String(row[f]);
      const file = String(row.filename);
      byFile.set(file, [...(byFile.get(file) ?? []), event]);
    }
    return byFile;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** The columns of a Parquet file as DuckDB reads them: [name, DuckDB type], in file order. */
export async function parquetColumns(path: string): Promise<[string, string][]> {
  const rows = await query(`DESCRIBE SELECT * FROM read_parquet('${path.replace(/'/g, "''")}')`);
  return rows.map((r) => [String(r.column_name), String(r.column_type)]);
}

/** `select` over the rows of a Parquet file, in file order (DuckDB's JS values: BIGINT as bigint). */
export async function parquetRows(path: string, select: string): Promise<Record<string, unknown>[]> {
  return query(`SELECT ${select} FROM read_parquet('${path.replace(/'/g, "''")}')`);
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
