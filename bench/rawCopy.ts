/**
 * The file sink's reference: copy the bytes the file sink wrote (its NDJSON output) to a new
 * file in 1 MiB chunks, fsync after each chunk — the floor of what "append and make durable"
 * costs on this disk, with none of Beacon's work.
 */
import { openSync, readSync, writeSync, fsyncSync, closeSync, fstatSync, unlinkSync } from 'node:fs';

export interface CopyResult {
  bytes: number;
  seconds: number;
  bytesPerSec: number;
}

export function rawCopy(src: string, dst: string, chunk = 1024 * 1024): CopyResult {
  const inFd = openSync(src, 'r');
  const outFd = openSync(dst, 'w');
  const buf = Buffer.allocUnsafe(chunk);
  const size = fstatSync(inFd).size;
  const t0 = process.hrtime.bigint();
  let total = 0;
  try {
    for (;;) {
      const n = readSync(inFd, buf, 0, chunk, null);
      if (n === 0) break;
      let off = 0;
      while (off < n) off += writeSync(outFd, buf, off, n - off);
      fsyncSync(outFd);
      total += n;
    }
  } finally {
    closeSync(inFd);
    closeSync(outFd);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    unlinkSync(dst);
  } catch {
    /* keep going */
  }
  if (total !== size) throw new Error(`raw copy read ${total} bytes of ${size}`);
  return { bytes: total, seconds, bytesPerSec: total / seconds };
}
