import { basename, dirname, extname, join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import type { TrackedEvent } from '../../event/trackedEvent.js';
import { encodeLines, getCodec } from '../../event/codecs/registry.js';
import type { Codec } from '../../event/codecs/codec.js';
import { SinkError, type Sink, type SinkContext } from '../sink.js';
import type { FileSinkConfig } from './index.js';
import { nodeFileSystem, type SinkFileSystem } from './fileSystem.js';
import type { LogPosition } from '../../log/eventLog.js';
import type { BatchOrigins } from '../sink.js';
import { readWrittenPosition, writeWrittenPosition, type WrittenPosition } from './writtenPosition.js';

/**
 * Appends encoded events, one per line, to `path`.
 *
 * Promises:
 * - `deliver` resolves only after the batch is written and fdatasync'd, so a delivered event
 *   survives a crash (at-least-once to the file).
 * - The file never keeps a torn line: after a failed write the sink reopens the file and cuts
 *   it back to the end of the last synced batch before writing again.
 * - Rotation happens between batches, never inside one: by size (`rotate.maxBytes`, a batch
 *   that would pass it goes to a fresh file) and by time (`rotate.interval`, aligned to
 *   multiples of the interval since the epoch, so `1h` rotates on the hour). The closed file
 *   is renamed `<name>.<UTC timestamp><ext>` beside it.
 * - Exactly once with a log that gives positions (`deliverAt`, the local log): after each
 *   synced batch the log position it reached and the file length are recorded in
 *   `.<name>.pos` beside it (writtenPosition.ts), before the cursor may commit. At the first open the
 *   file is cut back to the recorded length (a batch written but not recorded), and events
 *   below the recorded position are skipped when the log delivers them again after a crash.
 */
export class FileSink implements Sink {
  private readonly codec: Codec;
  private handle: FileHandle | undefined;
  private size = 0;
  private period = 0;
  /** Inode and size after the last synced write, to cut a torn tail on reopen. */
  private synced: { ino: number; size: number } | undefined;
  /** The log position the file holds everything before (deliverAt); read from the position file at the first open. */
  private written: WrittenPosition | undefined;
  private recovered = false;

  constructor(
    private readonly config: FileSinkConfig,
    private readonly context: Pick<SinkContext, 'clock'>,
    private readonly fs: SinkFileSystem = nodeFileSystem,
  ) {
    this.codec = getCodec(config.codec);
  }

  async open(): Promise<void> {
    if (this.handle) return;
    try {
      await this.fs.mkdir(dirname(this.config.path), { recursive: true });
      if (!this.recovered) this.written = await readWrittenPosition(this.positionPath);
      const handle = await this.fs.open(this.config.path, 'a');
      try {
        let st = await handle.stat();
        if (!this.recovered && this.written) {
          // A batch written after the last record was never committed: the log delivers it again.
          const keep = this.written.ino === st.ino ? this.written.size : 0;
          if (st.size > keep) {
            await handle.truncate(keep);
            await handle.datasync();
            st = await handle.stat();
          }
        }
        this.recovered = true;
        if (this.synced && this.synced.ino === st.ino && st.size > this.synced.size) {
          await handle.truncate(this.synced.size);
          await handle.datasync();
          st = await handle.stat();
        }
        this.size = st.size;
        this.period = this.periodOf(st.size > 0 ? st.mtimeMs : this.context.clock.now());
        this.synced = { ino: st.ino, size: st.size };
      } catch (err) {
        await handle.close().catch(() => {});
        throw err;
      }
      this.handle = handle;
    } catch (err) {
      throw classify(err, `opening ${this.config.path}`);
    }
  }

  async deliver(batch: readonly TrackedEvent[]): Promise<void> {
    if (!this.handle) throw new SinkError('reconnect', `${this.config.path} is not open`, { errorType: 'not_open' });
    const payload = encodeLines(this.codec, batch);
    if (this.mustRotate(payload.length)) await this.rotate();
    const handle = this.handle;
    if (!handle) throw new SinkError('reconnect', `${this.config.path} is not open`, { errorType: 'not_open' });
    try {
      let offset = 0;
      while (offset < payload.length) {
        const { bytesWritten } = await handle.write(payload, offset, payload.length - offset);
        offset += bytesWritten;
      }
      await handle.datasync();
    } catch (err) {
      // The file may now end in part of this batch: drop the handle so open() cuts it back.
      this.handle = undefined;
      await handle.close().catch(() => {});
      throw classify(err, `writing ${this.config.path}`);
    }
    this.size += payload.length;
    if (this.synced) this.synced.size = this.size;
  }

  /** Writes the events the file does not hold yet, then records the position reached (see the class comment). */
  async deliverAt(batch: readonly TrackedEvent[], at: BatchOrigins): Promise<LogPosition> {
    // A replay asks for the events again: forget what was written, keep the file as it is.
    if (at.replay && this.written) this.written = { ...this.written, position: {} };
    const done = this.written?.position ?? {};
    const fresh = batch.filter((_, i) => {
      const o = at.origins[i]!;
      return o.seq >= (done[o.partition] ?? 0);
    });
    if (fresh.length > 0) await this.deliver(fresh);
    const position: Record<string, number> = { ...done };
    for (const [p, seq] of Object.entries(at.end)) position[p] = Math.max(position[p] ?? 0, seq);
    if (fresh.length > 0 && this.synced) {
      const next = { ino: this.synced.ino, size: this.synced.size, position };
      try {
        await writeWrittenPosition(this.positionPath, next);
      } catch (err) {
        throw classify(err, `recording the position in ${this.positionPath}`);
      }
      this.written = next;
    } else if (this.written) {
      this.written = { ...this.written, position };
    }
    return at.end;
  }

  /** A hidden file beside the output (`.events.ndjson.pos`), so readers globbing the output's name do not pick it up. */
  private get positionPath(): string {
    return join(dirname(this.config.path), `.${basename(this.config.path)}.pos`);
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return;
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  private periodOf(ms: number): number {
    const interval = this.config.rotate?.interval;
    return interval ? Math.floor(ms / interval) : 0;
  }

  private mustRotate(incoming: number): boolean {
    const period = this.periodOf(this.context.clock.now());
    if (this.size === 0) {
      // An empty file is never rotated; it simply belongs to the current period.
      this.period = period;
      return false;
    }
    const maxBytes = this.config.rotate?.maxBytes;
    if (maxBytes !== undefined && this.size + incoming > maxBytes) return true;
    return period !== this.period;
  }

  private async rotate(): Promise<void> {
    await this.close();
    try {
      await this.fs.rename(this.config.path, await this.rotatedName());
    } catch (err) {
      throw classify(err, `rotating ${this.config.path}`);
    }
    this.synced = undefined;
    await this.open();
  }

  private async rotatedName(): Promise<string> {
    const path = this.config.path;
    const ext = extname(path);
    const stem = join(dirname(path), basename(path, ext));
    const stamp = new Date(this.context.clock.now()).toISOString().replace(/:/g, '-');
    for (let n = 0; ; n++) {
      const candidate = `${stem}.${stamp}${n === 0 ? '' : `-${n}`}${ext}`;
      try {
        await this.fs.access(candidate);
      } catch {
        return candidate;
      }
    }
  }
}

/** Permission and path errors will not fix themselves: fatal. A full disk: retry. The rest: reopen. */
const FATAL_CODES = new Set(['EEXIST', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EROFS', 'ENAMETOOLONG', 'EINVAL']);
const RETRY_CODES = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EAGAIN']);

function classify(err: unknown, doing: string): SinkError {
  if (err instanceof SinkError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'unknown';
  const message = `${doing} failed: ${(err as Error | undefined)?.message ?? String(err)}`;
  const kind = FATAL_CODES.has(code) ? 'fatal' : RETRY_CODES.has(code) ? 'retry' : 'reconnect';
  return new SinkError(kind, message, { errorType: code.toLowerCase(), cause: err });
}
