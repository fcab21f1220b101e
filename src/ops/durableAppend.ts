import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Appends to one path run one after another: a large text is written in several write(2)
 * calls, and two appends running at once (a queue source dead-letters messages concurrently)
 * would interleave their pieces into lines that no longer parse.
 */
const tails = new Map<string, Promise<void>>();

/** Appends `text` to `path` (creating its directory) and resolves after fdatasync; appends to one path never interleave. */
export function appendDurably(path: string, text: string): Promise<void> {
  const previous = tails.get(path) ?? Promise.resolve();
  const run = previous.then(() => appendNow(path, text));
  const tail = run.catch(() => undefined);
  tails.set(path, tail);
  void tail.then(() => {
    if (tails.get(path) === tail) tails.delete(path);
  });
  return run;
}

async function appendNow(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'a');
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
