import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCodec } from '../../src/event/codecs/registry.js';
import type { TrackedEvent } from '../../src/event/trackedEvent.js';
import { FileSink } from '../../src/sinks/file/fileSink.js';
import { nodeFileSystem, type SinkFileSystem } from '../../src/sinks/file/fileSystem.js';
import { fileConfigSchema } from '../../src/sinks/file/index.js';
import { runSinkConformance } from './sink.js';

const root = mkdtempSync(join(tmpdir(), 'beacon-file-conformance-'));
const dir = join(root, 'out', 'nested');
let down = false;

function eio(): Error {
  return Object.assign(new Error('EIO: i/o error (disk went away)'), { code: 'EIO' });
}

/** A handle that, while the "disk" is down, writes half of what it is given and then fails. */
function faulty(handle: FileHandle): FileHandle {
  return new Proxy(handle, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'write') {
        return async (buffer: Buffer, offset: number, length: number) => {
          if (!down) return target.write(buffer, offset, length);
          await target.write(buffer, offset, Math.floor(length / 2));
          throw eio();
        };
      }
      if (prop === 'datasync') return async () => (down ? Promise.reject(eio()) : target.datasync());
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

const fs: SinkFileSystem = {
  ...nodeFileSystem,
  open: async (path, flags) => {
    if (down) throw eio();
    return faulty(await nodeFileSystem.open(path, flags));
  },
};

runSinkConformance('file', {
  ordered: true,
  config: () => ({ type: 'file', path: join(dir, 'events.ndjson'), rotate: { maxBytes: 4096 } }),
  createSink: (config, context) => new FileSink(fileConfigSchema.parse(config), context, fs),
  start: async () => {
    down = false;
  },
  stop: async () => {
    down = true;
  },
  reset: async () => {
    rmSync(join(root, 'out'), { recursive: true, force: true });
  },
  readBack: async () => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    // Rotated files carry an ISO timestamp, so name order is time order; the live file is last.
    // Dotfiles are the sink's own records (the written position), not output.
    const rotated = names.filter((n) => n !== 'events.ndjson' && !n.startsWith('.')).sort();
    const files = [...rotated, ...(names.includes('events.ndjson') ? ['events.ndjson'] : [])];
    const codec = getCodec('json');
    return files.flatMap((n) => codec.decode!(readFileSync(join(dir, n))) as TrackedEvent[]);
  },
});
