import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Appends `text` to `path` (creating its directory) and resolves after fdatasync. */
export async function appendDurably(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'a');
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
