import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { EVENT_FIELDS } from '../../event/trackedEvent.js';
import { columnSql, objectColumns, type ColumnsOf } from './typedColumns.js';

/**
 * Turns a staged group (NDJSON, the json codec's lines, in log order) into the bytes of one
 * object. Every encoder is deterministic: the same staged lines give the same bytes, which
 * is what lets a redelivery after a crash overwrite an object with identical content.
 */
export interface LakeEncoder {
  /** File name ending of the objects, e.g. `.parquet`, `.ndjson.gz`. */
  readonly extension: string;
  readonly contentType: string;
  /**
   * Encodes `stagePath` and returns the path of the finished object file (maybe `stagePath`
   * itself). `types` are the event types the staged lines hold (for typed columns).
   */
  encode(stagePath: string, types?: Iterable<string>): Promise<string>;
  close(): Promise<void>;
}

export type LakeFormat = 'parquet' | 'ndjson';
export type LakeCompression = 'zstd' | 'snappy' | 'gzip' | 'none';

/** `columnsOf`: the typed Parquet columns of an event type, from its JSON Schema (typedColumns.ts). */
export function createEncoder(
  format: LakeFormat,
  compression: LakeCompression | undefined,
  columnsOf?: ColumnsOf,
): LakeEncoder {
  if (format === 'ndjson') return new NdjsonEncoder((compression ?? 'gzip') === 'gzip');
  return new ParquetEncoder(compression ?? 'zstd', columnsOf);
}

/** NDJSON: the staged lines as they are, or gzip'd (Node's gzip header carries no time, so the bytes repeat). */
class NdjsonEncoder implements LakeEncoder {
  readonly extension: string;
  readonly contentType = 'application/x-ndjson';

  constructor(private readonly gzip: boolean) {
    this.extension = gzip ? '.ndjson.gz' : '.ndjson';
  }

  async encode(stagePath: string): Promise<string> {
    if (!this.gzip) return stagePath;
    const out = `${stagePath}.gz`;
    await pipeline(createReadStream(stagePath), createGzip({ level: 6 }), createWriteStream(out));
    return out;
  }

  async close(): Promise<void> {}
}

/**
 * The Parquet columns, in order (docs/lake.md): the event's fields, `ts` as a UTC timestamp,
 * `props` and `meta` as JSON text, then the typed columns of the object's event types. Values are read as text first and converted with TRY_CAST,
 * so an odd value in an old log becomes NULL instead of stopping the sink.
 */
const STAGED_COLUMNS = `{id:'VARCHAR',type:'VARCHAR',ts:'VARCHAR',clientTs:'VARCHAR',partyId:'VARCHAR',sessionId:'VARCHAR',pageViewId:'VARCHAR',ip:'VARCHAR',ua:'VARCHAR',url:'VARCHAR',referrer:'VARCHAR',props:'JSON',meta:'JSON'}`;
const SELECT_COLUMNS = EVENT_FIELDS.map((field) =>
  field === 'ts'
    ? `epoch_ms(TRY_CAST(ts AS BIGINT))::TIMESTAMPTZ AS ts`
    : field === 'clientTs'
      ? `TRY_CAST(clientTs AS BIGINT) AS clientTs`
      : field,
).join(', ');

/**
 * Parquet through DuckDB's own writer (measured in bench/scenarios/s3.ts: a few µs per event,
 * against tens for the JavaScript writers). One in-memory DuckDB with one thread: COPY then
 * keeps the staged order and cuts row groups the same way every time, so the bytes repeat.
 */
class ParquetEncoder implements LakeEncoder {
  readonly extension = '.parquet';
  readonly contentType = 'application/vnd.apache.parquet';
  private connection: Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly compression: LakeCompression,
    private readonly columnsOf: ColumnsOf | undefined,
  ) {}

  encode(stagePath: string, types: Iterable<string> = []): Promise<string> {
    const present = [...new Set(types)];
    const typed = this.columnsOf ? objectColumns(present, this.columnsOf) : [];
    const select = [SELECT_COLUMNS, ...typed.map((c) => columnSql(c, c.types.length === present.length))].join(', ');
    const run = this.queue.then(async () => {
      const { connection } = await this.connect();
      const out = `${stagePath}.parquet`;
      const codec = this.compression === 'none' ? 'uncompressed' : this.compression;
      await connection.run(
        `COPY (SELECT ${select} FROM read_json(${quote(stagePath)}, format = 'newline_delimited', columns = ${STAGED_COLUMNS})) TO ${quote(out)} (FORMAT parquet, COMPRESSION ${codec})`,
      );
      await stat(out);
      return out;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    const open = this.connection;
    this.connection = undefined;
    if (!open) return;
    await this.queue;
    const { instance, connection } = await open.catch(() => ({ instance: undefined, connection: undefined }));
    connection?.closeSync();
    instance?.closeSync();
  }

  private connect() {
    this.connection ??= (async () => {
      const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
      const connection = await instance.connect();
      // Timestamps are UTC whatever the machine's zone, so the bytes do not depend on where Beacon runs.
      await connection.run(`SET TimeZone = 'UTC'`);
      return { instance, connection };
    })();
    this.connection.catch(() => (this.connection = undefined));
    return this.connection;
  }
}

function quote(path: string): string {
  return `'${path.replace(/'/g, "''")}'`;
}
