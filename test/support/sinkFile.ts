import { readFile } from 'node:fs/promises';

/** The events a file sink with the json codec wrote so far (none while the file does not exist yet or its last line is half written). */
export async function sinkLines<T>(path: string): Promise<T[]> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as T);
  } catch {
    return [];
  }
}
