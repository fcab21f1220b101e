import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import type { LogPosition } from '../../log/eventLog.js';

/**
 * What the file sink has written: the log position after its last synced batch, and the file
 * (inode) and length that batch ended at. Kept beside the output as `.<name>.pos`, rewritten in
 * place after every batch (one fixed-size block with a checksum, fdatasync'd), before the
 * dispatcher may commit that batch.
 *
 * After a crash, bytes past `size` were written but never recorded, so never committed:
 * they are cut, and events below `position` are already in the file, so they are skipped
 * when the log delivers them again. Together: no line lost, none written twice.
 */
export interface WrittenPosition {
  ino: number;
  size: number;
  position: LogPosition;
}

const BLOCK = 4096;

export async function readWrittenPosition(path: string): Promise<WrittenPosition | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const [json, sum] = text.trimEnd().split('\t');
  if (!json || !sum || digest(json) !== sum) return undefined; // torn or foreign: fall back to at-least-once
  try {
    const parsed = JSON.parse(json) as WrittenPosition;
    if (
      Number.isSafeInteger(parsed.ino) &&
      Number.isSafeInteger(parsed.size) &&
      parsed.position &&
      typeof parsed.position === 'object'
    )
      return parsed;
  } catch {
    /* fall through */
  }
  return undefined;
}

/** Overwrites the record in place (one block, so a crash leaves the old or the new one) and syncs it. */
export async function writeWrittenPosition(path: string, value: WrittenPosition): Promise<void> {
  const json = JSON.stringify(value);
  const line = `${json}\t${digest(json)}\n`;
  const size = Math.max(BLOCK, Math.ceil(Buffer.byteLength(line) / BLOCK) * BLOCK);
  const block = Buffer.alloc(size, 0x20);
  block.write(line);
  block[size - 1] = 0x0a;
  // r+ rewrites in place: truncating first ('w') would leave an empty record if a crash came between.
  const handle = await open(path, 'r+').catch(() => open(path, 'w'));
  try {
    await handle.write(block, 0, size, 0);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}
