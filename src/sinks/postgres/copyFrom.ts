import type pg from 'pg';

/**
 * `COPY <table> (<columns>) FROM STDIN` over a pg client, for the postgres sink's fast path.
 *
 * COPY writes a batch several times faster than a multi-row INSERT: the server parses one
 * text stream instead of binding thousands of parameters, and inserts the rows in bulk
 * (multi-insert heap writes, one WAL record per page) where INSERT ... ON CONFLICT does one
 * speculative insertion per row.
 *
 * pg has no COPY API of its own; it hands any object with a `submit` method the connection
 * ("submittable", the hook pg-copy-streams uses). This one sends the statement, answers the
 * server's CopyInResponse with the data and CopyDone, and settles on ReadyForQuery (success)
 * or the server's ErrorResponse (after which pg no longer routes ReadyForQuery to it). The
 * client's query_timeout applies to it like to any query.
 *
 * The data comes as chunks the caller encodes on demand: each chunk goes to the socket as soon
 * as it is encoded, so the server parses and inserts one chunk on one core while the next is
 * encoded on another. Encoding the whole batch first and then sending it made the two wait for
 * each other (about half of psql's rows/s on 2 cores; docs/performance.md).
 */

/** The parts of pg's Connection a COPY FROM needs (pg/lib/connection.js). */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
}

class CopyFromStdin {
  callback: ((err: Error | null, rowCount?: number) => void) | undefined;
  private rowCount = 0;
  /** Why the data could not be encoded; the server's answer to CopyFail is reported as this. */
  private encodeError: Error | undefined;

  constructor(
    readonly text: string,
    private readonly chunks: Iterable<Buffer>,
  ) {}

  submit(connection: CopyConnection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: CopyConnection): void {
    try {
      for (const chunk of this.chunks) connection.sendCopyFromChunk(chunk);
    } catch (err) {
      // The server then aborts the COPY (nothing is written) and answers with an error.
      this.encodeError = err instanceof Error ? err : new Error(String(err));
      connection.sendCopyFail(`the client could not encode the rows: ${this.encodeError.message}`);
      return;
    }
    connection.endCopyFrom();
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.rowCount = Number(/^COPY (\d+)/.exec(msg.text ?? '')?.[1] ?? 0);
  }

  handleReadyForQuery(): void {
    this.callback?.(null, this.rowCount);
  }

  handleError(err: Error): void {
    this.callback?.(this.encodeError ?? err);
  }

  // Messages a COPY FROM never gets; pg calls them by name if a server sent them anyway.
  handleEmptyQuery(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/**
 * Runs `sql` (a `COPY ... FROM STDIN`) with the text-format `chunks`, pulled one by one once
 * the server is ready for them; resolves with the rows copied.
 */
export function copyFrom(client: pg.Client, sql: string, chunks: Iterable<Buffer>): Promise<number> {
  return new Promise((resolve, reject) => {
    const copy = new CopyFromStdin(sql, chunks);
    let settled = false;
    copy.callback = (err, rowCount) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(rowCount ?? 0);
    };
    client.query(copy as unknown as pg.Submittable);
  });
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const SPECIAL = /[\\\n\r\t]/;

/**
 * One field of COPY's text format: `\N` for NULL, backslash escapes for the characters that
 * delimit fields and rows. A value is what the sink would bind as a parameter (a string, a
 * number, a boolean), written as pg writes parameters: `String(value)`.
 */
export function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : String(value);
  return SPECIAL.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c]!) : text;
}

/** Characters per chunk: large enough that a write per chunk costs nothing, small enough to overlap. */
const CHUNK_CHARS = 64 * 1024;

/**
 * COPY text-format data for `items`, each turned into a row (parameter values in column order)
 * by `toRow` only when the chunk holding it is pulled.
 */
export function* copyChunks<T>(items: readonly T[], toRow: (item: T) => readonly unknown[]): Generator<Buffer> {
  let out = '';
  for (const item of items) {
    const row = toRow(item);
    for (let i = 0; i < row.length; i++) out += i === 0 ? copyField(row[i]) : `\t${copyField(row[i])}`;
    out += '\n';
    if (out.length >= CHUNK_CHARS) {
      yield Buffer.from(out, 'utf8');
      out = '';
    }
  }
  if (out.length > 0) yield Buffer.from(out, 'utf8');
}
