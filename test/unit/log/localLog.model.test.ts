import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Cursor, LogPosition } from '../../../src/log/eventLog.js';
import { LocalLog, MemoryLogFs } from '../../../src/log/local/index.js';
import { event } from './logTestKit.js';

/**
 * Model-based test: random appends (awaited or left in flight), reads, commits, flushes,
 * clean reopens and crashes (with torn tails) against an in-memory file system, checked
 * against a model of what the log promises:
 * - an append that resolved before a crash is delivered after it (at-least-once),
 * - nothing is invented and each partition keeps append order,
 * - a delivered record survives a crash (a cursor never passes an unsynced record),
 * - a persisted commit is never re-delivered; the cursor resumes exactly there,
 * - lag counts durable, uncommitted records.
 */
type Command =
  | { kind: 'append'; count: number; wait: boolean }
  | { kind: 'settle' }
  | { kind: 'read'; max: number }
  | { kind: 'commit' }
  | { kind: 'flush' }
  | { kind: 'reopen' }
  | { kind: 'crash'; tornPercent: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      count: fc.integer({ min: 1, max: 6 }),
      wait: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), max: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('crash' as const), tornPercent: fc.integer({ min: 0, max: 100 }) }),
  },
);

type Status = 'pending' | 'acked' | 'uncertain' | 'failed';

interface ModelEvent {
  status: Status;
  /** Delivered once, so it was synced and must never disappear. */
  delivered: boolean;
  /** Skipped by a cursor after a crash: it did not survive, so it may never appear later. */
  lost: boolean;
}

class Harness {
  readonly fs = new MemoryLogFs({ syncTicks: 6 });
  readonly model: ModelEvent[] = [];
  log!: LocalLog;
  cursor!: Cursor;
  inflight: Promise<void>[] = [];
  /** Model index of the next event the cursor should deliver. */
  nextIdx = 0;
  committedIdx = 0;
  persistedIdx = 0;
  lastRead: { position: LogPosition; idx: number } | undefined;
  deliveredThisRun = new Set<number>();

  async open(): Promise<void> {
    this.log = await LocalLog.open({
      dir: '/data/log',
      fs: this.fs,
      maxBytes: 1 << 30,
      segmentBytes: 700, // a handful of records per segment, so reads cross segments often
      cursorSyncMs: 1e9, // persisted only by flush/close, so the model knows when
      retryAfterSeconds: 1,
      retentionIntervalMs: 1e9,
    });
    this.cursor = await this.log.cursor('sink');
    this.nextIdx = this.persistedIdx;
    this.committedIdx = this.persistedIdx;
    this.lastRead = undefined;
    this.deliveredThisRun = new Set();
  }

  append(count: number): Promise<void> {
    const first = this.model.length;
    const batch = Array.from({ length: count }, (_, i) => event(first + i));
    for (let i = 0; i < count; i++) this.model.push({ status: 'pending', delivered: false, lost: false });
    const mark = (status: Status) => {
      for (let i = first; i < first + count; i++) {
        const e = this.model[i]!;
        // A resolution after a crash means the sync happened before it: the records are durable.
        if (status === 'acked' || e.status === 'pending') e.status = status;
      }
    };
    const p = this.log.append(batch).then(
      () => mark('acked'),
      () => mark('failed'),
    );
    this.inflight.push(p);
    return p;
  }

  async read(max: number): Promise<void> {
    const batch = await this.cursor.read(max, 0);
    for (const e of batch.events) {
      const j = Number(e.id.slice(1));
      assert.ok(j >= 0 && j < this.model.length, `invented event ${e.id}`);
      assert.ok(j >= this.nextIdx, `event ${e.id} out of order or re-delivered (expected index >= ${this.nextIdx})`);
      assert.equal(e.type, 'page_view');
      assert.deepEqual(e.props, event(j).props);
      for (let k = this.nextIdx; k < j; k++) {
        const skipped = this.model[k]!;
        assert.ok(skipped.status !== 'acked' && skipped.status !== 'pending', `acknowledged event e${k} was skipped`);
        assert.ok(!skipped.delivered || skipped.lost, `event e${k} was delivered before, then lost`);
        skipped.lost = true;
      }
      const target = this.model[j]!;
      assert.ok(!target.lost, `event ${e.id} appeared after later events were delivered without it`);
      target.delivered = true;
      this.deliveredThisRun.add(j);
      this.nextIdx = j + 1;
    }
    this.lastRead = { position: batch.position, idx: this.nextIdx };
  }

  commit(): void {
    if (!this.lastRead) return;
    this.cursor.commit(this.lastRead.position);
    this.committedIdx = Math.max(this.committedIdx, this.lastRead.idx);
  }

  async flush(): Promise<void> {
    await this.cursor.flush();
    this.persistedIdx = this.committedIdx;
  }

  async settle(): Promise<void> {
    await Promise.all(this.inflight);
    this.inflight = [];
  }

  async reopen(): Promise<void> {
    await this.settle();
    await this.log.close();
    this.persistedIdx = this.committedIdx;
    await this.open();
  }

  async crash(tornPercent: number): Promise<void> {
    this.fs.crash((n) => (n * tornPercent) / 100);
    for (const e of this.model) if (e.status === 'pending' || e.status === 'failed') e.status = 'uncertain';
    // The old objects are abandoned, as a killed process's are; their pending work fails.
    const old = this.inflight;
    this.inflight = [];
    await Promise.allSettled(old);
    await this.open();
  }

  /** Reads everything left and checks that every acknowledged event was delivered. */
  async finish(): Promise<void> {
    await this.settle();
    for (;;) {
      const before = this.nextIdx;
      await this.read(50);
      if (this.nextIdx === before) break;
    }
    this.model.forEach((e, i) => {
      if (e.status === 'acked') assert.ok(i < this.nextIdx, `acknowledged event e${i} never delivered`);
    });
    let lag = 0;
    for (const j of this.deliveredThisRun) if (j >= this.committedIdx) lag++;
    assert.equal(this.cursor.lag().events, lag, 'lag counts the durable uncommitted events');
    await this.log.close();
  }
}

describe('local log model', () => {
  test('keeps its promises under random appends, reads, commits, reopens and crashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
        const h = new Harness();
        await h.open();
        for (const c of commands) {
          if (c.kind === 'append') {
            const p = h.append(c.count);
            if (c.wait) await p;
          } else if (c.kind === 'settle') await h.settle();
          else if (c.kind === 'read') await h.read(c.max);
          else if (c.kind === 'commit') h.commit();
          else if (c.kind === 'flush') await h.flush();
          else if (c.kind === 'reopen') await h.reopen();
          else await h.crash(c.tornPercent);
        }
        await h.finish();
      }),
      { numRuns: 150 },
    );
  });
});
