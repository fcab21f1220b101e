import { appendFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeJsonText } from '../../event/codecs/json.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import type { EventOrigin, LogPosition } from '../../log/eventLog.js';
import type { Clock } from '../../ops/clock.js';
import type { LakeEncoder } from './lakeEncoders.js';
import { compilePrefix, objectName, type PrefixOf } from './objectKey.js';
import type { PlanJournal } from './planJournal.js';

/** Where finished objects go: a bucket, or a local directory. */
export interface ObjectTarget {
  /** Stores the file at `path` as `key`, replacing what is there; resolves once it is durable. */
  put(key: string, path: string, contentType: string): Promise<void>;
}

export interface RollLimits {
  maxBytes: number;
  maxEvents: number;
  maxAge: number;
}

export interface LakeWriterOptions {
  prefix: string;
  roll: RollLimits;
  /** Scratch directory for the staged lines of open segments; emptied at start. */
  stageDir: string;
  journal: PlanJournal;
  encoder: LakeEncoder;
  target: ObjectTarget;
  clock: Clock;
  /** Objects uploaded at once. */
  concurrency?: number;
  /**
   * Closed segments that may wait for their upload while `take` goes on (default 0: `take`
   * uploads what closes before it resolves). Above 0, uploads run behind `take`, so staging
   * the next segment overlaps encoding and uploading the last; a failed upload is thrown by
   * the next `take` or `flush`, and `committable()` still waits for the upload.
   */
  uploadAhead?: number;
}

/** Staged lines held in memory, across groups, before they are appended to the stage files. */
const STAGE_BYTES = 4 * 1024 * 1024;

/** Events of one prefix within a segment: staged lines, then one object. */
interface Group {
  prefix: string;
  path: string;
  first: number;
  last: number;
  events: number;
  /** Staged lines held in memory (each event's text, without its newline), and their bytes. */
  pending: string[];
  pendingBytes: number;
  /** The event types in the group (an object's typed columns depend on them). */
  types: Set<string>;
  /** The group's file was created (with its segment's directory). */
  created: boolean;
  uploaded: boolean;
  /** The finished object file, encoded ahead of its upload. */
  encoded?: Promise<string> | undefined;
}

/** Consecutive events of one log partition gathered for one set of objects. */
interface Segment {
  partition: string;
  first: number;
  last: number;
  events: number;
  bytes: number;
  openedAt: number;
  /** From the journal: this range was closed before (maybe uploaded); it must end exactly here again. */
  plannedLast: number | undefined;
  dir: string;
  groups: Map<string, Group>;
  /** Closed and every line staged: ready to encode and upload. */
  sealed: boolean;
  /** Its range being made durable in the plan journal (before any of its objects is uploaded). */
  planned?: Promise<void> | undefined;
}

/**
 * Gathers events into objects tied to log positions, and says how far the cursor may commit.
 *
 * Promises:
 * - Events of one log partition are cut into segments of consecutive positions; a segment
 *   becomes one object per prefix, named `<prefix><partition>-<first>-<last><ext>` after the
 *   first and last position of the events in that object.
 * - A segment closes when it reaches `roll.maxEvents` or `roll.maxBytes` (counted on the
 *   events' NDJSON text, so the same events close it at the same place), or when it is
 *   `roll.maxAge` old, or at stop. Before any of its objects is uploaded, its range is made
 *   durable in the plan journal; a segment that meets a recorded plan closes exactly at the
 *   plan's end, so after a crash the same events give the same keys and the same bytes.
 * - `committable()` never passes the first position of a segment that is not fully uploaded,
 *   so the cursor only moves past events whose objects the destination acknowledged.
 * - Taking events it already holds again (a retried batch) changes nothing.
 */
export class LakeWriter {
  private readonly prefixOf: PrefixOf;
  private readonly open = new Map<string, Segment>();
  private readonly closed: Segment[] = [];
  /** Next position not yet taken, per partition. */
  private readonly taken = new Map<string, number>();
  /** The read position reported with the last batch, per partition. */
  private readonly end: Record<string, number> = {};
  /** The first origin and end of the last batch taken, to tell a retry of it from a rewound cursor. */
  private lastBatch = '';
  /** Bytes of staged lines held in memory (not yet appended). */
  private pendingBytes = 0;
  /** The uploads running behind `take` (uploadAhead > 0), and the failure they ended with. */
  private uploading: Promise<void> | undefined;
  private uploadFailure: { error: unknown } | undefined;
  /** Called when the uploads behind `take` finish a segment (or stop). */
  private segmentWaiters: (() => void)[] = [];

  constructor(private readonly options: LakeWriterOptions) {
    this.prefixOf = compilePrefix(options.prefix);
  }

  /** Drops what an earlier run staged: the log still holds those events and delivers them again. */
  async reset(): Promise<void> {
    await rm(this.options.stageDir, { recursive: true, force: true });
    await mkdir(this.options.stageDir, { recursive: true });
  }

  get held(): number {
    let n = 0;
    for (const s of this.open.values()) n += s.events;
    for (const s of this.closed) n += s.events;
    return n;
  }

  /** Takes a batch; uploads what closes. Resolves with the position the cursor may commit. */
  async take(batch: readonly TrackedEvent[], origins: readonly EventOrigin[], end: LogPosition): Promise<LogPosition> {
    const ahead = this.options.uploadAhead ?? 0;
    this.throwUploadFailure();
    if (ahead === 0) await this.uploadClosed();
    const now = this.options.clock.now();
    const signature = JSON.stringify([origins[0], end]);
    const retry = signature === this.lastBatch;
    this.lastBatch = signature;
    for (let i = 0; i < batch.length; i++) {
      const origin = origins[i]!;
      this.add(batch[i]!, origin.partition, origin.seq, now, retry);
    }
    for (const [p, seq] of Object.entries(end)) this.end[p] = Math.max(this.end[p] ?? 0, seq);
    this.closeDue(now, false);
    await this.stage(false);
    if (ahead === 0) await this.uploadClosed();
    else {
      this.encodeSealed();
      this.uploadBehind();
      // Bounded: at most `uploadAhead` closed segments wait, so the stage does not grow while the server is slow.
      while (this.closed.length > ahead && this.uploading) await this.segmentUploaded();
      this.throwUploadFailure();
    }
    return this.committable();
  }

  /** Closes segments due by age (or every one when `all`), uploads them and says how far the cursor may commit. */
  async flush(all: boolean): Promise<LogPosition> {
    await this.settle();
    await this.uploadClosed();
    this.closeDue(this.options.clock.now(), all);
    await this.stage(all);
    await this.uploadClosed();
    return this.committable();
  }

  /** Waits for the uploads running behind `take`; throws the failure they ended with. */
  private async settle(): Promise<void> {
    while (this.uploading) await this.uploading;
    this.throwUploadFailure();
  }

  private throwUploadFailure(): void {
    const failure = this.uploadFailure;
    this.uploadFailure = undefined;
    if (failure) throw failure.error;
  }

  /** Resolves when the uploads behind `take` finish their current segment, or stop. */
  private segmentUploaded(): Promise<void> {
    return new Promise((resolve) => this.segmentWaiters.push(resolve));
  }

  private wakeWaiters(): void {
    const waiters = this.segmentWaiters;
    this.segmentWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Starts uploading sealed segments behind `take`, unless that is running or failed (the failure is thrown first). */
  private uploadBehind(): void {
    if (this.uploading || this.uploadFailure || !this.closed[0]?.sealed) return;
    this.uploading = this.uploadClosed()
      .catch((error: unknown) => {
        this.uploadFailure = { error };
      })
      .finally(() => {
        this.uploading = undefined;
        this.wakeWaiters();
      });
  }

  committable(): LogPosition {
    const position: Record<string, number> = { ...this.end };
    const hold = (partition: string, first: number) => {
      position[partition] = Math.min(position[partition] ?? first, first);
    };
    for (const s of this.closed) hold(s.partition, s.first);
    for (const s of this.open.values()) hold(s.partition, s.first);
    return position;
  }

  private add(event: TrackedEvent, partition: string, seq: number, now: number, retry: boolean): void {
    const taken = this.taken.get(partition);
    if (taken !== undefined && seq < taken) {
      // Taken before: the same batch again after a failed attempt, or one that overlaps what
      // is still held. Otherwise the cursor was moved back (a replay): start again from here.
      if (retry || seq >= this.floor(partition)) return;
      this.forget(partition);
    }
    let segment = this.open.get(partition);
    if (segment?.plannedLast !== undefined && seq > segment.plannedLast) {
      // The planned end never came (its event was filtered out this time): close what is here.
      this.close(segment);
      segment = undefined;
    }
    segment ??= this.start(partition, seq, now);
    const text = encodeJsonText(event);
    const prefix = this.prefixOf(event);
    let group = segment.groups.get(prefix);
    if (!group) {
      group = {
        prefix,
        path: join(segment.dir, `${segment.groups.size}.ndjson`),
        first: seq,
        last: seq,
        events: 0,
        pending: [],
        pendingBytes: 0,
        types: new Set(),
        created: false,
        uploaded: false,
      };
      segment.groups.set(prefix, group);
    }
    // Exact per event (the newline included): a segment must close at the same event every time.
    const bytes = Buffer.byteLength(text) + 1;
    group.pending.push(text);
    group.pendingBytes += bytes;
    group.types.add(event.type);
    group.last = seq;
    group.events++;
    segment.last = seq;
    segment.events++;
    segment.bytes += bytes;
    this.pendingBytes += bytes;
    this.taken.set(partition, seq + 1);
    const roll = this.options.roll;
    const full =
      segment.plannedLast !== undefined
        ? seq >= segment.plannedLast
        : segment.events >= roll.maxEvents || segment.bytes >= roll.maxBytes;
    if (full) this.close(segment);
  }

  private start(partition: string, seq: number, now: number): Segment {
    const plan = this.options.journal.planFor(partition, seq);
    const segment: Segment = {
      partition,
      first: seq,
      last: seq,
      events: 0,
      bytes: 0,
      openedAt: now,
      plannedLast: plan?.last,
      dir: join(this.options.stageDir, `${encodeURIComponent(partition)}-${seq}`),
      groups: new Map(),
      sealed: false,
    };
    this.open.set(partition, segment);
    return segment;
  }

  private close(segment: Segment): void {
    this.open.delete(segment.partition);
    this.closed.push(segment);
  }

  /** Closes open segments old enough (or all). A segment replaying a plan waits for its planned end. */
  private closeDue(now: number, all: boolean): void {
    for (const segment of [...this.open.values()]) {
      if (segment.plannedLast !== undefined) continue;
      if (all || now - segment.openedAt >= this.options.roll.maxAge) this.close(segment);
    }
  }

  /** The first position still held for `partition`. */
  private floor(partition: string): number {
    let floor = this.taken.get(partition) ?? 0;
    for (const s of this.closed) if (s.partition === partition) floor = Math.min(floor, s.first);
    const open = this.open.get(partition);
    if (open) floor = Math.min(floor, open.first);
    return floor;
  }

  private forget(partition: string): void {
    const drop = (segment: Segment) => {
      for (const group of segment.groups.values()) this.pendingBytes -= group.pendingBytes;
      void rm(segment.dir, { recursive: true, force: true });
    };
    const open = this.open.get(partition);
    if (open) {
      this.open.delete(partition);
      drop(open);
    }
    for (let i = this.closed.length - 1; i >= 0; i--) {
      const s = this.closed[i]!;
      if (s.partition !== partition) continue;
      this.closed.splice(i, 1);
      drop(s);
    }
    this.taken.delete(partition);
    delete this.end[partition];
  }

  /**
   * Appends held lines to the stage files: every closed segment's (then sealed), and the open
   * ones' when `all` or when more than STAGE_BYTES are held, so a batch costs no file write
   * and memory stays bounded.
   */
  private async stage(all: boolean): Promise<void> {
    const open = all || this.pendingBytes >= STAGE_BYTES;
    for (const segment of this.closed) {
      if (segment.sealed) continue;
      await this.stageSegment(segment);
      segment.sealed = true;
    }
    if (open) for (const segment of this.open.values()) await this.stageSegment(segment);
  }

  private async stageSegment(segment: Segment): Promise<void> {
    for (const group of segment.groups.values()) {
      if (group.pending.length === 0) continue;
      const text = `${group.pending.join('\n')}\n`;
      group.pending = [];
      this.pendingBytes -= group.pendingBytes;
      group.pendingBytes = 0;
      if (!group.created) {
        await mkdir(segment.dir, { recursive: true });
        await writeFile(group.path, text);
        group.created = true;
      } else await appendFile(group.path, text);
    }
  }

  /** Uploads closed segments in order; each one's plan is durable first. Throws on the first failure, keeping the rest. */
  private async uploadClosed(): Promise<void> {
    while (this.closed[0]?.sealed) {
      const segment = this.closed[0];
      this.encodeSealed();
      await this.planned(segment);
      const groups = [...segment.groups.values()].filter((g) => !g.uploaded);
      await runLimited(groups, this.options.concurrency ?? 4, (group) => this.upload(segment, group));
      // By identity: a replay may have dropped segments of its partition meanwhile.
      const at = this.closed.indexOf(segment);
      if (at >= 0) this.closed.splice(at, 1);
      this.wakeWaiters();
      await rm(segment.dir, { recursive: true, force: true });
    }
  }

  /**
   * Starts encoding every sealed segment's objects, in order: the next segments encode while
   * one uploads (encoding is local, so it needs no plan yet; the encoder runs one at a time).
   */
  private encodeSealed(): void {
    for (const segment of this.closed) {
      if (!segment.sealed) break;
      // Recorded early too, so a slow fdatasync overlaps the upload before it.
      void this.planned(segment);
      for (const group of segment.groups.values()) if (!group.uploaded) void this.encoded(group);
    }
  }

  /** Makes the segment's range durable in the journal, once (a failure is tried again on the next call). */
  private planned(segment: Segment): Promise<void> {
    if (!segment.planned) {
      const recording = this.options.journal.recordPlan({
        partition: segment.partition,
        first: segment.first,
        last: segment.last,
      });
      segment.planned = recording;
      recording.catch(() => {
        if (segment.planned === recording) segment.planned = undefined;
      });
    }
    return segment.planned;
  }

  /** The group's object file, encoding it once (a failed encoding is tried again on the next call). */
  private encoded(group: Group): Promise<string> {
    if (!group.encoded) {
      const encoding = this.options.encoder.encode(group.path, group.types);
      group.encoded = encoding;
      encoding.catch(() => {
        if (group.encoded === encoding) group.encoded = undefined;
      });
    }
    return group.encoded;
  }

  private async upload(segment: Segment, group: Group): Promise<void> {
    const encoder = this.options.encoder;
    const file = await this.encoded(group);
    await stat(file);
    const key = `${group.prefix}${objectName(segment.partition, group.first, group.last, encoder.extension)}`;
    await this.options.target.put(key, file, encoder.contentType);
    group.uploaded = true;
  }
}

async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}
