import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileConfigSchema } from '../../../src/sinks/file/index.js';
import { FileSink } from '../../../src/sinks/file/fileSink.js';
import type { Clock } from '../../../src/ops/clock.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';

function events(n: number, from = 0): TrackedEvent[] {
  return Array.from({ length: n }, (_, k) => ({
    id: `e${from + k}`,
    type: 't',
    ts: 1,
    props: { pad: 'x'.repeat(40) },
    meta: {},
  }));
}

function fakeClock(start: number): Clock & { time: number } {
  return {
    time: start,
    now() {
      return this.time;
    },
    sleep: async () => {},
  };
}

function sinkIn(dir: string, extra: Record<string, unknown>, clock: Clock) {
  return new FileSink(
    fileConfigSchema.parse({ name: 'f', type: 'file', path: join(dir, 'a', 'b', 'events.ndjson'), ...extra }),
    { clock },
  );
}

describe('file sink', () => {
  test('creates missing directories and appends one JSON line per event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-file-'));
    const sink = sinkIn(dir, {}, fakeClock(0));
    await sink.open();
    await sink.deliver(events(3));
    await sink.close();
    const lines = readFileSync(join(dir, 'a', 'b', 'events.ndjson'), 'utf8').split('\n');
    assert.deepEqual(
      lines.slice(0, 3).map((l) => JSON.parse(l).id),
      ['e0', 'e1', 'e2'],
    );
    assert.equal(lines[3], '');
  });

  test('writes the line codec when configured', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-file-'));
    const sink = sinkIn(dir, { codec: 'line' }, fakeClock(0));
    await sink.open();
    await sink.deliver([{ id: 'i', type: 'open', ts: 5, props: { a: 'b' }, meta: {} }]);
    await sink.close();
    assert.equal(readFileSync(join(dir, 'a', 'b', 'events.ndjson'), 'utf8'), 'open id=i&ts=5 a=b\n');
  });

  test('rotates by size between batches and names the old file with a timestamp', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-file-'));
    const clock = fakeClock(Date.UTC(2024, 4, 1, 10, 0, 0));
    const sink = sinkIn(dir, { rotate: { maxBytes: 500 } }, clock);
    await sink.open();
    await sink.deliver(events(4));
    await sink.deliver(events(4, 4));
    await sink.close();
    const names = readdirSync(join(dir, 'a', 'b')).sort();
    assert.deepEqual(names, ['events.2024-05-01T10-00-00.000Z.ndjson', 'events.ndjson']);
    const first = readFileSync(join(dir, 'a', 'b', names[0]!), 'utf8')
      .trim()
      .split('\n');
    assert.equal(first.length, 4, 'a batch is never split across files');
  });

  test('rotates when the time interval rolls over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-file-'));
    const clock = fakeClock(Date.UTC(2024, 4, 1, 10, 59, 0));
    const sink = sinkIn(dir, { rotate: { interval: '1h' } }, clock);
    await sink.open();
    await sink.deliver(events(1));
    clock.time = Date.UTC(2024, 4, 1, 11, 0, 1);
    await sink.deliver(events(1, 1));
    await sink.close();
    assert.equal(readdirSync(join(dir, 'a', 'b')).length, 2);
  });

  test('classifies a path under a regular file as fatal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-file-'));
    const first = sinkIn(dir, {}, fakeClock(0));
    await first.open();
    await first.close();
    const sink = new FileSink(
      fileConfigSchema.parse({ name: 'f', type: 'file', path: join(dir, 'a', 'b', 'events.ndjson', 'x.ndjson') }),
      { clock: fakeClock(0) },
    );
    await assert.rejects(sink.open(), { name: 'SinkError', kind: 'fatal' });
  });
});
