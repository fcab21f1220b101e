import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadLetterView } from '../../../src/api/deadLetterView.js';
import { DeadLetterFile } from '../../../src/dispatch/deadLetter.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';

const event = (i: number, pad = 0): TrackedEvent => ({
  id: `e${i}`,
  type: 'click',
  ts: 1_700_000_000_000 + i,
  props: { i, pad: 'é'.repeat(pad) },
  meta: {},
});

async function withDataDir(fn: (dataDir: string, file: DeadLetterFile) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'beacon-dlq-view-'));
  try {
    await fn(dataDir, new DeadLetterFile(dataDir, 'hook'));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function deadLetter(file: DeadLetterFile, from: number, count: number, pad = 0): Promise<void> {
  const entries = Array.from({ length: count }, (_, k) => ({
    event: event(from + k, pad),
    reason: `HTTP 400: bad ${from + k}`,
    errorType: 'http_400',
  }));
  await file.append(entries, 1_700_000_100_000 + from);
}

describe("the API's dead-letter view", () => {
  it('reports nothing for a sink that never dead-lettered', async () => {
    await withDataDir(async (dataDir) => {
      assert.deepEqual(await new DeadLetterView(dataDir).summary('hook', 20), {
        sink: 'hook',
        count: 0,
        bytes: 0,
        samples: [],
      });
    });
  });

  it('counts entries and returns the newest samples first, as many as asked', async () => {
    await withDataDir(async (dataDir, file) => {
      await deadLetter(file, 0, 30);
      const summary = await new DeadLetterView(dataDir).summary('hook', 5);
      assert.equal(summary.count, 30);
      assert.ok(summary.bytes > 0);
      assert.deepEqual(
        summary.samples.map((s) => (s.event as { id: string }).id),
        ['e29', 'e28', 'e27', 'e26', 'e25'],
      );
      assert.deepEqual(Object.keys(summary.samples[0]!).sort(), ['errorType', 'event', 'reason', 'ts']);
      assert.equal(summary.samples[0]!.reason, 'HTTP 400: bad 29');
      assert.equal(summary.samples[0]!.errorType, 'http_400');
    });
  });

  it('keeps counting from where it stopped as the file grows, and ignores a line still being written', async () => {
    await withDataDir(async (dataDir, file) => {
      const view = new DeadLetterView(dataDir);
      await deadLetter(file, 0, 10);
      assert.equal((await view.counts('hook')).count, 10);
      await deadLetter(file, 10, 5);
      assert.equal((await view.counts('hook')).count, 15);
      await appendFile(file.path, '{"ts":1,"sink":"hook","event":{"id":"half');
      assert.equal((await view.counts('hook')).count, 15);
      await appendFile(file.path, '"}}\n');
      assert.equal((await view.counts('hook')).count, 16);
    });
  });

  it('counts a replaced file from the start (a replay moved it aside and new entries came)', async () => {
    await withDataDir(async (dataDir, file) => {
      const view = new DeadLetterView(dataDir);
      await deadLetter(file, 0, 20);
      assert.equal((await view.counts('hook')).count, 20);
      await unlink(file.path);
      assert.equal((await view.counts('hook')).count, 0);
      await deadLetter(file, 100, 25, 3);
      assert.equal((await view.counts('hook')).count, 25);
      // Rewritten in place (same inode) and longer than the part already counted: only the
      // bytes where the last count ended can tell.
      const before = (await readFile(file.path)).length;
      await writeFile(file.path, '{}\n'.repeat(before));
      assert.equal((await view.counts('hook')).count, before);
    });
  });

  it('adds the entries a replay cut short left in the replaying file', async () => {
    await withDataDir(async (dataDir, file) => {
      await deadLetter(file, 0, 4);
      await file.beginReplay();
      await deadLetter(file, 10, 2);
      const summary = await new DeadLetterView(dataDir).summary('hook', 10);
      assert.equal(summary.count, 6);
      assert.deepEqual(
        summary.samples.map((s) => (s.event as { id: string }).id),
        ['e11', 'e10', 'e3', 'e2', 'e1', 'e0'],
      );
    });
  });

  it('counts a file of several MiB by reading it in chunks, lines crossing chunk edges and multi-byte text included', async () => {
    await withDataDir(async (dataDir, file) => {
      // ~3000 entries of ~1.5 KiB with two-byte characters: about 4.5 MiB, so several 1 MiB chunks.
      await mkdir(join(dataDir, 'dlq'), { recursive: true });
      for (let i = 0; i < 3000; i += 500) await deadLetter(file, i, 500, 600);
      const view = new DeadLetterView(dataDir);
      const summary = await view.summary('hook', 100);
      assert.equal(summary.count, 3000);
      assert.equal(summary.samples.length, 100);
      assert.equal((summary.samples[99]!.event as { id: string }).id, 'e2900');
      assert.equal((summary.samples[0]!.event as { props: { pad: string } }).props.pad, 'é'.repeat(600));
    });
  });

  it('skips unreadable lines in samples but counts them as entries waiting', async () => {
    await withDataDir(async (dataDir, file) => {
      await deadLetter(file, 0, 2);
      await writeFile(file.path, 'not json\n', { flag: 'a' });
      const summary = await new DeadLetterView(dataDir).summary('hook', 10);
      assert.equal(summary.count, 3);
      assert.equal(summary.samples.length, 2);
    });
  });
});
