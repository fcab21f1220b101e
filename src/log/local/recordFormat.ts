import { crc32c } from './crc32c.js';
import type { LogFile } from './logFs.js';
import { jsonText } from '../../event/codecs/json.js';
import type { TrackedEvent } from '../../event/trackedEvent.js';

/**
 * One record on disk:
 *
 *   offset 0  u32 LE  payload length in bytes
 *          4  u32 LE  CRC32C of payload ++ bytes 8..16 ++ bytes 0..4 (so it covers seq and length)
 *          8  u64 LE  sequence number in the partition (below 2^53)
 *         16  payload: UTF-8 JSON of one TrackedEvent, as the json codec writes it (`jsonText`),
 *             so a sink with the json codec can write the record's text as it is
 *
 * The checksum starts with the payload so that it can be computed when the event is encoded,
 * before its sequence number is known, and finished cheaply when the batch is written.
 * JSON never contains a raw 0x00 byte and every header does (length < 2^24), so a valid frame
 * cannot hide inside a payload: that makes resynchronising after a corrupt length reliable.
 */
export const HEADER_BYTES = 16;
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
const TWO_32 = 2 ** 32;

export const SEGMENT_SUFFIX = '.seg';

export function segmentName(baseSeq: number): string {
  return `${String(baseSeq).padStart(20, '0')}${SEGMENT_SUFFIX}`;
}

/** The base sequence number of a segment file name, or undefined for other files. */
export function parseSegmentName(name: string): number | undefined {
  if (!/^\d{20}\.seg$/.test(name)) return undefined;
  return Number(name.slice(0, 20));
}

/** Events framed in one buffer, checksums started; `stamp` adds sequence numbers. */
export interface EncodedBatch {
  buf: Buffer;
  /** Start offset of each frame in `buf`, plus `buf.length` at the end. */
  offsets: number[];
  /** Payload CRC of each frame, to be finished by `stamp`. */
  payloadCrcs: number[];
  count: number;
}

export function encodeBatch(events: readonly TrackedEvent[]): EncodedBatch {
  const n = events.length;
  const json = new Array<string>(n);
  const offsets = new Array<number>(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const s = jsonText(events[i]!);
    json[i] = s;
    offsets[i] = total;
    total += HEADER_BYTES + Buffer.byteLength(s);
  }
  offsets[n] = total;
  const buf = Buffer.allocUnsafe(total);
  const payloadCrcs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const at = offsets[i]!;
    const len = offsets[i + 1]! - at - HEADER_BYTES;
    if (len > MAX_RECORD_BYTES)
      throw new RangeError(`an event of ${len} bytes exceeds the log's record limit of ${MAX_RECORD_BYTES}`);
    buf.writeUInt32LE(len, at);
    buf.write(json[i]!, at + HEADER_BYTES, len, 'utf8');
    payloadCrcs[i] = crc32c(buf, at + HEADER_BYTES, at + HEADER_BYTES + len);
  }
  return { buf, offsets, payloadCrcs, count: n };
}

/** Writes sequence numbers `firstSeq..` into frames [from, to) and finishes their checksums. */
export function stamp(batch: EncodedBatch, from: number, to: number, firstSeq: number): void {
  const { buf, offsets, payloadCrcs } = batch;
  for (let i = from; i < to; i++) {
    const at = offsets[i]!;
    const seq = firstSeq + (i - from);
    buf.writeUInt32LE(seq % TWO_32, at + 8);
    buf.writeUInt32LE(Math.floor(seq / TWO_32), at + 12);
    let crc = crc32c(buf, at + 8, at + 16, payloadCrcs[i]!);
    crc = crc32c(buf, at, at + 4, crc);
    buf.writeUInt32LE(crc, at + 4);
  }
}

export const FRAME_OK = 0;
/** Not enough bytes to see the whole frame. */
export const FRAME_NEED_MORE = 1;
export const FRAME_INVALID = 2;

/** Filled by `parseFrame`; reused to avoid an allocation per record. */
export interface FrameView {
  seq: number;
  payloadStart: number;
  payloadEnd: number;
  /** Bytes the frame needs (header plus payload), known once its header is readable. */
  size: number;
}

export function newFrameView(): FrameView {
  return { seq: 0, payloadStart: 0, payloadEnd: 0, size: 0 };
}

/** The sequence number field of the frame at `pos` (unchecked: the caller knows the header is there). */
export function readFrameSeq(buf: Buffer, pos: number): number {
  return buf.readUInt32LE(pos + 8) + buf.readUInt32LE(pos + 12) * TWO_32;
}

export function parseFrame(buf: Buffer, pos: number, limit: number, out: FrameView): number {
  if (limit - pos < HEADER_BYTES) {
    out.size = HEADER_BYTES;
    return FRAME_NEED_MORE;
  }
  const len = buf.readUInt32LE(pos);
  if (len > MAX_RECORD_BYTES) return FRAME_INVALID;
  const end = pos + HEADER_BYTES + len;
  out.size = HEADER_BYTES + len;
  if (end > limit) return FRAME_NEED_MORE;
  let crc = crc32c(buf, pos + HEADER_BYTES, end);
  crc = crc32c(buf, pos + 8, pos + 16, crc);
  crc = crc32c(buf, pos, pos + 4, crc);
  if (crc !== buf.readUInt32LE(pos + 4)) return FRAME_INVALID;
  out.seq = buf.readUInt32LE(pos + 8) + buf.readUInt32LE(pos + 12) * TWO_32;
  out.payloadStart = pos + HEADER_BYTES;
  out.payloadEnd = end;
  return FRAME_OK;
}

/**
 * Reads a segment in large chunks and parses frames out of the chunk without copying.
 * `offset` is the file offset of the next unparsed byte.
 */
export class FrameReader {
  buf: Buffer;
  /** File offset of buf[0]. */
  private start: number;
  pos = 0;
  len = 0;
  /** The last fill reached the end of the file as it was then. */
  eof = false;
  /** Has data been loaded since the last reset. */
  loaded = false;

  constructor(
    readonly file: LogFile,
    offset: number,
    private readonly chunkBytes: number,
  ) {
    this.start = offset;
    this.buf = Buffer.allocUnsafe(chunkBytes);
  }

  get offset(): number {
    return this.start + this.pos;
  }

  /** Reads from `offset` on; `need` is the size of a frame that must fit in the buffer. */
  async fill(need = 0): Promise<void> {
    const from = this.offset;
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(need, this.chunkBytes));
    const n = await this.file.read(this.buf, 0, this.buf.length, from);
    this.start = from;
    this.pos = 0;
    this.len = n;
    this.eof = n < this.buf.length;
    this.loaded = true;
  }

  reset(offset: number): void {
    this.start = offset;
    this.pos = 0;
    this.len = 0;
    this.eof = false;
    this.loaded = false;
  }
}

/**
 * Slow path after a bad frame: the offset of the next valid frame at or after `from` whose
 * sequence number is in [minSeq, maxSeq), or -1. Reads the rest of the file into memory.
 */
export async function findNextFrame(
  file: LogFile,
  from: number,
  minSeq: number,
  maxSeq = Number.MAX_SAFE_INTEGER,
): Promise<number> {
  const size = await file.size();
  if (size <= from) return -1;
  const buf = Buffer.allocUnsafe(size - from);
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf, got, buf.length - got, from + got);
    if (n === 0) break;
    got += n;
  }
  const view = newFrameView();
  for (let q = 0; q + HEADER_BYTES <= got; q++) {
    const len = buf.readUInt32LE(q);
    if (len > MAX_RECORD_BYTES || q + HEADER_BYTES + len > got) continue;
    const seq = buf.readUInt32LE(q + 8) + buf.readUInt32LE(q + 12) * TWO_32;
    if (seq < minSeq || seq >= maxSeq) continue;
    if (parseFrame(buf, q, got, view) === FRAME_OK) return from + q;
  }
  return -1;
}

export interface SegmentScan {
  /** File offset just after the last valid frame. */
  validEnd: number;
  /** Sequence number of the last valid frame, or -1 when there is none. */
  lastSeq: number;
  records: number;
  /** Places where bad bytes were skipped (each counted as one corrupt record). */
  corruptAt: number[];
  fileSize: number;
}

/**
 * Walks every frame of a segment, skipping corrupt stretches, and reports where valid data ends.
 * `onFrame` is told each valid frame's payload as its file offset and length.
 */
export async function scanSegment(
  file: LogFile,
  chunkBytes = 1 << 20,
  onFrame?: (payloadOffset: number, payloadBytes: number) => void,
): Promise<SegmentScan> {
  const fileSize = await file.size();
  const reader = new FrameReader(file, 0, chunkBytes);
  const view = newFrameView();
  const result: SegmentScan = { validEnd: 0, lastSeq: -1, records: 0, corruptAt: [], fileSize };
  for (;;) {
    if (!reader.loaded) await reader.fill();
    const code = parseFrame(reader.buf, reader.pos, reader.len, view);
    if (code === FRAME_OK && view.seq > result.lastSeq) {
      result.lastSeq = view.seq;
      result.records++;
      onFrame?.(reader.offset + HEADER_BYTES, view.payloadEnd - view.payloadStart);
      reader.pos = view.payloadEnd;
      result.validEnd = reader.offset;
      continue;
    }
    if (code === FRAME_NEED_MORE && !reader.eof) {
      await reader.fill(view.size);
      continue;
    }
    if (reader.offset >= fileSize) return result;
    // Invalid, out of order, or cut short at the end of the file: look for a later valid frame.
    const next = await findNextFrame(file, reader.offset + 1, result.lastSeq + 1);
    if (next < 0) return result;
    result.corruptAt.push(reader.offset);
    reader.reset(next);
  }
}
