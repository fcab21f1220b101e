import type { BucketCount, BucketQuery, RecentQuery, TopValuesQuery, ValueCount } from '../storeReader.js';
import type { QueryDialect, SqlParams, SqlValue } from '../../sql/dialect.js';
import { EVENT_FIELDS, type EventField, type TrackedEvent } from '../../event/trackedEvent.js';
import type { StoreColumns } from './storeSink.js';

/**
 * The StoreReader queries written once for every SQL store; the dialect fills in what
 * differs. Every value from a caller travels as a parameter (or, for ClickHouse, an escaped
 * literal); only identifiers from the config, quoted, are part of the text. Output columns
 * are aliased `beacon_*` so they never collide with a column of the user's table.
 *
 * Ranges are half-open `[from, to)` on the `ts` column as stored. Ties in time are broken by
 * id, descending, so paging with `before` is stable.
 */
export interface Statement {
  sql: string;
  values: SqlValue[];
}

const TIME_FIELDS: readonly EventField[] = ['ts', 'clientTs'];
const JSON_FIELDS: readonly EventField[] = ['props', 'meta'];

export class StoreQueries {
  /** The whole event fields the table holds, in the json codec's order, with their output alias. */
  private readonly fields: { field: EventField; column: string; alias: string }[];

  constructor(
    private readonly d: QueryDialect,
    private readonly columns: StoreColumns,
  ) {
    this.fields = EVENT_FIELDS.flatMap((field) => {
      const column = columns.field[field];
      return column === undefined ? [] : [{ field, column, alias: `beacon_${field.toLowerCase()}` }];
    });
  }

  countsByBucket(q: BucketQuery): Statement {
    const p = this.d.params();
    const ms = this.d.timeMs(this.columns.field.ts);
    const type = this.d.exact(this.col('type'));
    const sql =
      `SELECT ${this.d.floorTo(ms, () => p.ref(q.bucketMs))} AS beacon_bucket, ${type} AS beacon_type, ${this.d.countEvents} AS beacon_count` +
      ` FROM ${this.d.countFrom} WHERE ${this.range(p, q.from, q.to)}${q.type === undefined ? '' : ` AND ${this.typeIs(p, q.type)}`}` +
      ` GROUP BY beacon_bucket, beacon_type ORDER BY beacon_bucket, beacon_type`;
    return { sql, values: p.values };
  }

  recent(q: RecentQuery): Statement {
    const p = this.d.params();
    const where: string[] = [];
    if (q.type !== undefined) where.push(this.typeIs(p, q.type));
    if (q.before !== undefined)
      where.push(`${this.col('ts')} < ${this.d.timeValue(p, this.columns.field.ts, q.before)}`);
    for (const [key, value] of Object.entries(q.propEquals ?? {}))
      where.push(`${this.d.exact(this.d.propText(p, key))} = ${this.d.exact(p.ref(value))}`);
    const sql =
      `SELECT ${this.eventColumns()} FROM ${this.d.table}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}` +
      ` ORDER BY ${this.col('ts')} DESC, ${this.col('id')} DESC${this.d.onePerId} LIMIT ${p.ref(q.limit)}`;
    return { sql, values: p.values };
  }

  countBetween(from: number, to: number): Statement {
    const p = this.d.params();
    return {
      sql: `SELECT ${this.d.countEvents} AS beacon_count FROM ${this.d.countFrom} WHERE ${this.range(p, from, to)}`,
      values: p.values,
    };
  }

  topValues(q: TopValuesQuery): Statement {
    const p = this.d.params();
    const value = () => this.d.exact(this.d.propText(p, q.prop));
    const sql =
      `SELECT ${value()} AS beacon_value, ${this.d.countEvents} AS beacon_count FROM ${this.d.countFrom}` +
      ` WHERE ${this.range(p, q.from, q.to)}${q.type === undefined ? '' : ` AND ${this.typeIs(p, q.type)}`} AND ${value()} IS NOT NULL` +
      ` GROUP BY beacon_value ORDER BY beacon_count DESC, beacon_value LIMIT ${p.ref(q.limit)}`;
    return { sql, values: p.values };
  }

  byId(id: string): Statement {
    const p = this.d.params();
    return {
      sql: `SELECT ${this.eventColumns()} FROM ${this.d.table} WHERE ${this.equals(p, this.col('id'), id)} LIMIT 1`,
      values: p.values,
    };
  }

  bucketCounts(rows: readonly Record<string, unknown>[]): BucketCount[] {
    return rows.map((r) => ({
      bucket: Number(r.beacon_bucket),
      type: String(r.beacon_type),
      count: Number(r.beacon_count),
    }));
  }

  count(rows: readonly Record<string, unknown>[]): number {
    return Number(rows[0]?.beacon_count ?? 0);
  }

  valueCounts(rows: readonly Record<string, unknown>[]): ValueCount[] {
    return rows.map((r) => ({ value: String(r.beacon_value), count: Number(r.beacon_count) }));
  }

  /** A row of `recent` or `byId` back into the event it was written from (absent fields stay absent). */
  event(row: Record<string, unknown>): TrackedEvent {
    const event: Record<string, unknown> = { props: {}, meta: {} };
    for (const { field, alias } of this.fields) {
      const value = row[alias];
      if (value === null || value === undefined) continue;
      if (TIME_FIELDS.includes(field)) event[field] = Number(value);
      else if (JSON_FIELDS.includes(field))
        event[field] = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
      else event[field] = value instanceof Buffer ? value.toString('utf8') : String(value);
    }
    return event as unknown as TrackedEvent;
  }

  private col(field: 'id' | 'type' | 'ts' | 'props'): string {
    return this.d.quote(this.columns.field[field]);
  }

  private eventColumns(): string {
    return this.fields
      .map(
        ({ field, column, alias }) =>
          `${TIME_FIELDS.includes(field) ? this.d.timeMs(column) : this.d.quote(column)} AS ${alias}`,
      )
      .join(', ');
  }

  private range(p: SqlParams, from: number, to: number): string {
    const ts = this.col('ts');
    return `${ts} >= ${this.d.timeValue(p, this.columns.field.ts, from)} AND ${ts} < ${this.d.timeValue(p, this.columns.field.ts, to)}`;
  }

  private typeIs(p: SqlParams, type: string): string {
    return this.equals(p, this.col('type'), type);
  }

  /** Equality on a column that an index on it can serve, and that is exact where the collation folds case. */
  private equals(p: SqlParams, column: string, value: string): string {
    const exact = this.d.exact(column);
    return exact === column
      ? `${column} = ${p.ref(value)}`
      : `${column} = ${p.ref(value)} AND ${exact} = ${this.d.exact(p.ref(value))}`;
  }
}
