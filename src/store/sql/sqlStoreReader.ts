import { BeaconError } from '../../errors/beaconError.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { checkRange, positive, wholeMs } from '../queryChecks.js';
import type { BucketCount, BucketQuery, RecentQuery, StoreReader, TopValuesQuery, ValueCount } from '../storeReader.js';
import type { ReadTarget, ReplicaSet, TargetHealth } from './replicaSet.js';
import type { QueryDialect } from '../../sql/dialect.js';
import { StoreQueries, type Statement } from './storeQueries.js';
import type { StoreColumns } from './storeSink.js';

/** What one SQL server kind brings to the shared reader. */
export interface SqlBackend<T extends ReadTarget> {
  readonly kind: 'postgres' | 'mysql' | 'clickhouse';
  /**
   * Reads the table's column types through `target` and returns the dialect for them. Throws
   * BEACON_E_STORE_QUERY, saying what to change, when the table cannot serve the queries.
   */
  describe(target: T): Promise<QueryDialect>;
  run(target: T, statement: Statement): Promise<Record<string, unknown>[]>;
  /** The user-facing error for a failure that is not about availability (a missing table, a grant). */
  explain(err: unknown): BeaconError;
}

/**
 * The StoreReader over a table a SQL sink writes. The table is described on the first query
 * rather than at open, so an API process starts while the database is still down, or before
 * the sink has created the table, and answers once they are there; a described table that
 * later loses a column is described again on the next query.
 */
export class SqlStoreReader<T extends ReadTarget = ReadTarget> implements StoreReader {
  private queries: Promise<StoreQueries> | undefined;

  constructor(
    private readonly backend: SqlBackend<T>,
    private readonly replicas: ReplicaSet<T>,
    private readonly columns: StoreColumns,
  ) {}

  async countsByBucket(q: BucketQuery): Promise<BucketCount[]> {
    checkRange(q.from, q.to);
    positive('bucketMs', q.bucketMs);
    return this.read(
      (s) => s.countsByBucket(q),
      (s, rows) => s.bucketCounts(rows),
    );
  }

  async recent(q: RecentQuery): Promise<TrackedEvent[]> {
    positive('limit', q.limit);
    if (q.before !== undefined) wholeMs('before', q.before);
    return this.read(
      (s) => s.recent(q),
      (s, rows) => rows.map((r) => s.event(r)),
    );
  }

  async countBetween(from: number, to: number): Promise<number> {
    checkRange(from, to);
    return this.read(
      (s) => s.countBetween(from, to),
      (s, rows) => s.count(rows),
    );
  }

  async topValues(q: TopValuesQuery): Promise<ValueCount[]> {
    checkRange(q.from, q.to);
    positive('limit', q.limit);
    return this.read(
      (s) => s.topValues(q),
      (s, rows) => s.valueCounts(rows),
    );
  }

  async byId(id: string): Promise<TrackedEvent | undefined> {
    return this.read(
      (s) => s.byId(id),
      (s, rows) => (rows[0] ? s.event(rows[0]) : undefined),
    );
  }

  /** Each server the store reads from and whether it takes reads now (for status and readiness). */
  health(): TargetHealth[] {
    return this.replicas.health();
  }

  async close(): Promise<void> {
    await this.replicas.close();
  }

  private async read<R>(
    build: (q: StoreQueries) => Statement,
    decode: (q: StoreQueries, rows: Record<string, unknown>[]) => R,
  ): Promise<R> {
    const queries = await this.prepared();
    let rows: Record<string, unknown>[];
    try {
      rows = await this.replicas.read((target) => this.backend.run(target, build(queries)));
    } catch (err) {
      const failure = this.failure(err);
      // The table may have changed under a described dialect: describe it again next time.
      if (failure.code === 'BEACON_E_STORE_QUERY') this.queries = undefined;
      throw failure;
    }
    return decode(queries, rows);
  }

  private prepared(): Promise<StoreQueries> {
    this.queries ??= this.replicas
      .read((target) => this.backend.describe(target))
      .then(
        (dialect) => new StoreQueries(dialect, this.columns),
        (err: unknown) => {
          this.queries = undefined;
          throw this.failure(err);
        },
      );
    return this.queries;
  }

  private failure(err: unknown): BeaconError {
    return err instanceof BeaconError ? err : this.backend.explain(err);
  }
}
