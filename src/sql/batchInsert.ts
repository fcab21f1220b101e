import { SinkError, type RejectedEvent } from '../sinks/sink.js';
import type { ColumnMapping } from '../sinks/sqlColumns.js';
import type { TransactionalDialect } from './dialect.js';

/** What the shared INSERT path needs of a sink: its dialect and table, its connection, its error classes. */
export interface InsertTarget {
  readonly dialect: TransactionalDialect;
  readonly table: string;
  readonly mapping: ColumnMapping;
  /** Runs one statement on the sink's connection (bounded as the sink bounds its attempts). */
  run(sql: string, values?: unknown[]): Promise<void>;
  /** A data error (a value too long, a CHECK or NOT NULL violation): about these rows, not the connection. */
  isDataError(err: unknown): boolean;
  /** The server's message for a refused row, as the dead letter's reason. */
  rowReason(err: unknown): string;
  /** The `errorType` a refused row is counted under. */
  errorType(err: unknown): string;
  /** Classifies any other failure (and marks the connection broken when it is). */
  failed(err: unknown): SinkError;
}

/**
 * Writes `rows` (encoded values in the mapping's column order) with the dialect's idempotent
 * multi-row INSERT, one attempt:
 *
 * - A batch larger than one INSERT can carry is split into several INSERTs inside one
 *   transaction: it is written whole or not at all.
 * - When the INSERT fails on a data error, the rows are inserted again one by one in one
 *   transaction (each under a savepoint where a failed statement aborts the transaction),
 *   the rows that go in are committed, and the others are named with the server's message in
 *   a `reject` SinkError, so the dispatcher dead-letters just them.
 * - Any other failure is classified by the sink (`failed`).
 */
export async function insertBatch(target: InsertTarget, rows: readonly (readonly unknown[])[]): Promise<void> {
  try {
    await insertAll(target, rows);
  } catch (err) {
    if (!target.isDataError(err)) throw target.failed(err);
    await insertRowByRow(target, rows);
  }
}

async function insertAll(target: InsertTarget, rows: readonly (readonly unknown[])[]): Promise<void> {
  const { dialect, table, mapping } = target;
  const perStatement = dialect.rowsPerStatement(mapping);
  const insert = async (chunk: readonly (readonly unknown[])[]) => {
    const statement = dialect.insert(table, mapping, chunk);
    await target.run(statement.sql, statement.values);
  };
  if (rows.length <= perStatement) {
    await insert(rows);
    return;
  }
  await target.run(dialect.begin);
  try {
    for (let i = 0; i < rows.length; i += perStatement) await insert(rows.slice(i, i + perStatement));
    await target.run('COMMIT');
  } catch (err) {
    await target.run('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** The fallback after a data error: row by row in one transaction, the refused rows named. */
async function insertRowByRow(target: InsertTarget, rows: readonly (readonly unknown[])[]): Promise<void> {
  const { dialect, table, mapping } = target;
  const savepoints = dialect.failedStatementAbortsTransaction;
  const rejected: RejectedEvent[] = [];
  let errorType = `${dialect.name === 'postgres' ? 'pg' : dialect.name}_data`;
  try {
    await target.run(dialect.begin);
    for (let index = 0; index < rows.length; index++) {
      const one = dialect.insert(table, mapping, [rows[index]!]);
      if (savepoints) await target.run('SAVEPOINT beacon_row');
      try {
        await target.run(one.sql, one.values);
        if (savepoints) await target.run('RELEASE SAVEPOINT beacon_row');
      } catch (err) {
        if (!target.isDataError(err)) throw err;
        if (savepoints) await target.run('ROLLBACK TO SAVEPOINT beacon_row');
        rejected.push({ index, reason: target.rowReason(err) });
        errorType = target.errorType(err);
      }
    }
    await target.run('COMMIT');
  } catch (err) {
    await target.run('ROLLBACK').catch(() => {});
    throw target.failed(err);
  }
  if (rejected.length > 0) {
    throw new SinkError(
      'reject',
      `${dialect.name} refused ${rejected.length} of ${rows.length} row(s) of the batch: ${rejected[0]!.reason}`,
      { errorType, rejected },
    );
  }
}
