import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The log positions one gathered object set covers: events `first..last` of `partition`. */
export interface SegmentPlan {
  partition: string;
  first: number;
  last: number;
}

/** A multipart upload that was started and not yet completed or aborted. */
export interface OpenUpload {
  key: string;
  uploadId: string;
}

/** Plans kept per partition when the journal is compacted: far more than a cursor can lag behind. */
const KEEP_PER_PARTITION = 1024;
const COMPACT_AFTER_LINES = 8192;

/**
 * A small append-only journal (one JSON line per entry, fdatasync'd before it is relied on)
 * that makes object boundaries reproducible after a crash.
 *
 * Invariants:
 * - A segment's plan (partition, first, last) is durable here before any of its objects is
 *   uploaded. The cursor is committed past `last` only after every object is acknowledged,
 *   so after a crash the redelivered events of an uploaded-or-half-uploaded segment meet its
 *   plan, and the sink closes the segment at exactly `last` again: same events, same keys,
 *   same bytes, whatever the batch boundaries or the clock say this time.
 * - A multipart upload id is durable here before its first part is sent, and is removed once
 *   the upload is completed or aborted; at open the sink aborts every id still listed, so a
 *   crash never leaves parts to accumulate in the bucket.
 * - A torn last line (a crash mid-append) is ignored: it was never relied on.
 */
export class PlanJournal {
  private readonly plans = new Map<string, SegmentPlan[]>();
  private readonly uploads = new Map<string, string>();
  private lines = 0;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly path: string) {}

  static async open(path: string): Promise<PlanJournal> {
    const journal = new PlanJournal(path);
    await mkdir(dirname(path), { recursive: true });
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) journal.apply(line);
    await journal.compact();
    return journal;
  }

  /** The plan covering `seq` of `partition`, if a segment holding it was ever closed. */
  planFor(partition: string, seq: number): SegmentPlan | undefined {
    const list = this.plans.get(partition);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const plan = list[i]!;
      if (plan.first <= seq && seq <= plan.last) return plan;
    }
    return undefined;
  }

  async recordPlan(plan: SegmentPlan): Promise<void> {
    const known = this.planFor(plan.partition, plan.first);
    if (known && known.first === plan.first && known.last === plan.last) return;
    await this.append({ plan: [plan.partition, plan.first, plan.last] });
  }

  async uploadStarted(upload: OpenUpload): Promise<void> {
    await this.append({ mpu: [upload.key, upload.uploadId] });
  }

  async uploadEnded(uploadId: string): Promise<void> {
    if (!this.uploads.has(uploadId)) return;
    await this.append({ mpuEnd: uploadId });
  }

  openUploads(): OpenUpload[] {
    return [...this.uploads].map(([uploadId, key]) => ({ key, uploadId }));
  }

  private apply(line: string): void {
    if (line.trim() === '') return;
    let entry: { plan?: unknown; mpu?: unknown; mpuEnd?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return; // a torn last line
    }
    if (Array.isArray(entry.plan) && entry.plan.length === 3) {
      const [partition, first, last] = entry.plan as [unknown, unknown, unknown];
      if (typeof partition === 'string' && Number.isSafeInteger(first) && Number.isSafeInteger(last)) {
        const list = this.plans.get(partition) ?? [];
        list.push({ partition, first: first as number, last: last as number });
        this.plans.set(partition, list);
      }
    } else if (Array.isArray(entry.mpu) && entry.mpu.length === 2) {
      this.uploads.set(String(entry.mpu[1]), String(entry.mpu[0]));
    } else if (typeof entry.mpuEnd === 'string') {
      this.uploads.delete(entry.mpuEnd);
    }
    this.lines++;
  }

  /** Appends one at a time (the uploads behind the lake writer record plans while others upload in parts). */
  private append(entry: object): Promise<void> {
    const run = this.tail.then(() => this.appendNow(entry));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async appendNow(entry: object): Promise<void> {
    // Opened per entry: one entry per object (or multipart upload), so the cost is small, and
    // no descriptor outlives the sink.
    const line = JSON.stringify(entry);
    const handle = await open(this.path, 'a');
    try {
      await handle.write(`${line}\n`);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    this.apply(line);
    if (this.lines > COMPACT_AFTER_LINES) await this.compact();
  }

  /** Rewrites the journal with the recent plans of each partition and the open uploads (temp file, fsync, rename). */
  private async compact(): Promise<void> {
    const out: string[] = [];
    for (const [partition, list] of this.plans) {
      const kept = list.slice(-KEEP_PER_PARTITION);
      this.plans.set(partition, kept);
      for (const p of kept) out.push(JSON.stringify({ plan: [partition, p.first, p.last] }));
    }
    for (const [uploadId, key] of this.uploads) out.push(JSON.stringify({ mpu: [key, uploadId] }));
    const temp = `${this.path}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.write(out.length > 0 ? `${out.join('\n')}\n` : '');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.path);
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.lines = out.length;
  }
}
