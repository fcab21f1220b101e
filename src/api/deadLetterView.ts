import { open, stat, type FileHandle } from 'node:fs/promises';
import { DeadLetterFile } from '../dispatch/deadLetter.js';

/**
 * Reads a sink's dead letters for the API without loading them: `<dataDir>/dlq/<sink>.ndjson`
 * plus `<sink>.replaying.ndjson` (what a replay cut short left for the next one).
 *
 * - `count` is the number of lines (one per dead-lettered event), kept per file and updated
 *   by reading only what was appended since the last look, so a 1 GB dead letter is read once,
 *   in 1 MiB chunks, and then only its growth. A file that was replaced (another inode, a
 *   shorter size, or different bytes where the last count ended) is counted again from 0.
 * - `samples` are the newest entries, read backwards from the end of the file, at most
 *   `MAX_TAIL_BYTES` of it.
 */

export interface DeadLetterSample {
  /** When the entry was dead-lettered, epoch ms. */
  ts: number;
  reason: string;
  errorType: string;
  /** The event in the json codec's shape. */
  event: unknown;
}

export interface DeadLetterSummary {
  sink: string;
  count: number;
  bytes: number;
  /** Newest first. */
  samples: DeadLetterSample[];
}

const CHUNK_BYTES = 1024 * 1024;
/** Samples come from at most this much of the file's end (a dead-lettered event is < 100 KiB). */
const MAX_TAIL_BYTES = 16 * 1024 * 1024;
/** Bytes before the counted offset that must be unchanged for the count to carry on. */
const FINGERPRINT_BYTES = 64;
const NEWLINE = 0x0a;

interface CountState {
  ino: number;
  /** Bytes counted: the file up to just after its last complete line. */
  offset: number;
  count: number;
  fingerprint: Buffer;
}

export class DeadLetterView {
  private readonly states = new Map<string, CountState>();
  /** One count at a time per file, so two requests never race on its state. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly dataDir: string) {}

  /** Lines and bytes waiting in the sink's dead letter (including a replay's leftover). */
  async counts(sink: string): Promise<{ count: number; bytes: number }> {
    const file = new DeadLetterFile(this.dataDir, sink);
    const parts = await Promise.all([this.countFile(file.path), this.countFile(file.replayPath)]);
    return { count: parts[0].count + parts[1].count, bytes: parts[0].bytes + parts[1].bytes };
  }

  async summary(sink: string, limit: number): Promise<DeadLetterSummary> {
    const file = new DeadLetterFile(this.dataDir, sink);
    const { count, bytes } = await this.counts(sink);
    const samples = limit > 0 ? await newestEntries(file.path, limit) : [];
    if (samples.length < limit) samples.push(...(await newestEntries(file.replayPath, limit - samples.length)));
    return { sink, count, bytes, samples };
  }

  private countFile(path: string): Promise<{ count: number; bytes: number }> {
    const previous = this.queues.get(path) ?? Promise.resolve();
    const next = previous.then(() => this.countNow(path));
    const settled = next.catch(() => undefined);
    this.queues.set(path, settled);
    void settled.then(() => {
      if (this.queues.get(path) === settled) this.queues.delete(path);
    });
    return next;
  }

  private async countNow(path: string): Promise<{ count: number; bytes: number }> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.states.delete(path);
      return { count: 0, bytes: 0 };
    }
    try {
      const info = await handle.stat();
      let state = this.states.get(path);
      if (!state || state.ino !== info.ino || info.size < state.offset || !(await sameBytes(handle, state))) {
        state = { ino: info.ino, offset: 0, count: 0, fingerprint: Buffer.alloc(0) };
      }
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
      let position = state.offset;
      let lastLineEnd = state.offset;
      let count = state.count;
      while (position < info.size) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK_BYTES, info.size - position), position);
        if (bytesRead === 0) break;
        for (let i = buffer.indexOf(NEWLINE, 0); i !== -1 && i < bytesRead; i = buffer.indexOf(NEWLINE, i + 1)) {
          count++;
          lastLineEnd = position + i + 1;
        }
        position += bytesRead;
      }
      const fingerprint = await readAt(
        handle,
        Math.max(0, lastLineEnd - FINGERPRINT_BYTES),
        Math.min(FINGERPRINT_BYTES, lastLineEnd),
      );
      this.states.set(path, { ino: info.ino, offset: lastLineEnd, count, fingerprint });
      return { count, bytes: info.size };
    } finally {
      await handle.close();
    }
  }
}

async function sameBytes(handle: FileHandle, state: CountState): Promise<boolean> {
  const length = state.fingerprint.length;
  if (length === 0) return true;
  return (await readAt(handle, state.offset - length, length)).equals(state.fingerprint);
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/** The last `limit` readable entries of a dead-letter file, newest first. */
async function newestEntries(path: string, limit: number): Promise<DeadLetterSample[]> {
  if (limit <= 0) return [];
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const handle = await open(path, 'r');
  try {
    const samples: DeadLetterSample[] = [];
    const floor = Math.max(0, size - MAX_TAIL_BYTES);
    let end = size;
    // Bytes before the first newline of the chunks read so far: the tail of an earlier line.
    let carry = Buffer.alloc(0);
    while (end > floor && samples.length < limit) {
      const start = Math.max(floor, end - CHUNK_BYTES);
      let chunk = Buffer.concat([await readAt(handle, start, end - start), carry]);
      end = start;
      carry = Buffer.alloc(0);
      if (start > 0) {
        // Unless the file's start was reached, the bytes before the first newline may be a
        // partial line: keep them (as bytes, so a split UTF-8 character survives) for the next round.
        const firstNewline = chunk.indexOf(NEWLINE);
        if (firstNewline === -1) {
          carry = chunk;
          continue;
        }
        carry = chunk.subarray(0, firstNewline);
        chunk = chunk.subarray(firstNewline + 1);
      }
      const lines = chunk.toString('utf8').split('\n');
      for (let i = lines.length - 1; i >= 0 && samples.length < limit; i--) {
        const sample = parseSample(lines[i]!);
        if (sample) samples.push(sample);
      }
    }
    return samples;
  } finally {
    await handle.close();
  }
}

function parseSample(line: string): DeadLetterSample | undefined {
  if (line.trim() === '') return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const entry = raw as Record<string, unknown>;
  if (typeof entry.event !== 'object' || entry.event === null) return undefined;
  return {
    ts: typeof entry.ts === 'number' ? entry.ts : 0,
    reason: typeof entry.reason === 'string' ? entry.reason : '',
    errorType: typeof entry.errorType === 'string' ? entry.errorType : 'reject',
    event: entry.event,
  };
}
