import { join } from 'node:path';
import { isNotFound, type LogFs } from './logFs.js';
import { parseSegmentName } from './recordFormat.js';

export interface SegmentRef {
  base: number;
  name: string;
  path: string;
  /** Size at the last refresh that read sizes (0 until then). */
  size: number;
}

/** The reader side's view of one partition directory: its segments and durable watermark. */
export class PartitionView {
  /** Records with a sequence number below this may be read. */
  durable = 0;
  segments: SegmentRef[] = [];

  constructor(
    readonly name: string,
    readonly dir: string,
    private readonly fs: LogFs,
  ) {}

  /** Re-lists the segment files; with `sizes`, also re-reads their sizes. */
  async refresh(sizes = false): Promise<void> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) names = [];
      else throw err;
    }
    const known = new Map(this.segments.map((s) => [s.name, s.size]));
    const segments: SegmentRef[] = [];
    for (const name of names) {
      const base = parseSegmentName(name);
      if (base === undefined) continue;
      segments.push({ base, name, path: join(this.dir, name), size: known.get(name) ?? 0 });
    }
    segments.sort((a, b) => a.base - b.base);
    if (sizes) {
      for (const s of segments) {
        try {
          s.size = (await this.fs.stat(s.path)).size;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          s.size = 0;
        }
      }
    }
    this.segments = segments;
  }

  /** Index of the segment holding `seq` (the last one starting at or before it; the first when `seq` is older than the log). */
  locate(seq: number): number {
    const segs = this.segments;
    if (segs.length === 0) return -1;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.base <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  segmentAfter(base: number): SegmentRef | undefined {
    return this.segments.find((s) => s.base > base);
  }

  /** First sequence number still on disk (0 for an empty partition). */
  firstSeq(): number {
    return this.segments[0]?.base ?? 0;
  }

  bytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    return total;
  }
}
