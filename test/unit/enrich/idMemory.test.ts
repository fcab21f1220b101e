import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { appendEnriched, createEnrichChain } from '../../../src/enrich/chain.js';
import { IdMemory } from '../../../src/enrich/idMemory.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { batchEvent, type RequestFacts } from '../../../src/event/fromSubmitted.js';
import { ResendMarks } from '../../../src/event/resendMarks.js';
import { compileRules } from '../../../src/event/rules.js';
import { PartitionWriter } from '../../../src/log/local/partitionWriter.js';
import { enrichConfig } from './fixtures.js';

const HOUR = 3600_000;
const rules = compileRules(enrichConfigLimits());
function enrichConfigLimits() {
  return {
    typePattern: '^[a-z]+$',
    propsBytes: 65536,
    propsDepth: 8,
    bodyBytes: 1,
    decompressedBytes: 1,
    batchEvents: 10,
  };
}
let clientTs = 0;
/** The marks the collector writes and the chain's id step reads (one per process in Beacon). */
const marks = new ResendMarks();
/** A /batch element as the collector builds it; `id` given or not. Distinct client times keep the request tier out of the way. */
function batch(id?: string): TrackedEvent {
  const facts: RequestFacts = { ts: 1_700_000_000_000, ip: '10.0.0.1', ua: 'test', referer: undefined, marks };
  return batchEvent({ type: 'order', ...(id ? { id } : {}), ts: ++clientTs }, facts, rules, 100) as TrackedEvent;
}
const idsOnly = (extra: Record<string, unknown> = {}) =>
  enrichConfig({ duplicates: { memory: { enabled: false }, ...extra } });

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'beacon-ids-'));
  dirs.push(d);
  return d;
}

describe('the idempotency memory of client event ids', () => {
  test('a repeated client id is flagged and counted; server-made ids are never checked', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(idsOnly(), { marks, metrics });
    const [a, b] = [batch('id-1'), batch('id-1')];
    chain.run([a]);
    chain.run([b, batch(), batch()]);
    assert.equal(a.meta.duplicate, undefined);
    assert.equal(b.meta.duplicate, true);
    const { values } = await metrics.enrichDuplicates.get();
    assert.deepEqual(
      values.map((v) => [v.labels.tier, v.value]),
      [['id', 1]],
    );
  });

  test('an id whose append failed is forgotten, also on disk: the client retry is not a repeat', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beacon-ids-forget-'));
    try {
      const chain = createEnrichChain(idsOnly(), { marks, dedupeDir: dir });
      await assert.rejects(
        appendEnriched(chain, [batch('retry-1')], () => Promise.reject(new Error('log full'))),
        /log full/,
      );
      const retry = batch('retry-1');
      assert.equal(await appendEnriched(chain, [retry], async () => {}), 1);
      assert.equal(retry.meta.duplicate, undefined, 'the retry after a refused append was taken for a repeat');
      const reopened = IdMemory.open({ ttlMs: 24 * HOUR, maxIds: 100, dir });
      assert.equal(reopened.seen('retry-1'), true, 'the durable retry is remembered across a restart');
      reopened.close();
      const other = IdMemory.open({ ttlMs: 24 * HOUR, maxIds: 100, dir, partition: 'p9' });
      assert.equal(other.seen('retry-1'), false);
      other.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a forgotten id stays forgotten after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beacon-ids-tombstone-'));
    try {
      const memory = IdMemory.open({ ttlMs: 24 * HOUR, maxIds: 100, dir });
      assert.equal(memory.seen('gone'), false);
      memory.flush();
      memory.forget(['gone']);
      memory.flush();
      const reopened = IdMemory.open({ ttlMs: 24 * HOUR, maxIds: 100, dir });
      assert.equal(reopened.seen('gone'), false);
      reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an id is forgotten after the TTL (fake clock) and the oldest go past maxIds', () => {
    let now = 1_000_000;
    const memory = IdMemory.open({ ttlMs: 24 * HOUR, maxIds: 3, now: () => now });
    assert.equal(memory.seen('x'), false);
    now += 23 * HOUR;
    assert.equal(memory.seen('x'), true);
    now += 2 * HOUR;
    assert.equal(memory.seen('x'), false, 'expired after 24 h from first sight');
    for (const id of ['a', 'b', 'c']) memory.seen(id);
    assert.equal(memory.size, 3);
    assert.equal(memory.seen('x'), false, 'evicted as the oldest past maxIds');
  });

  test('it survives close and reopen in a data dir, and the file holds only times and ids', async () => {
    const dir = await tempDir();
    let now = 5_000_000;
    const first = createEnrichChain(idsOnly(), { marks, dedupeDir: dir, partition: 'p1', now: () => now });
    const stored = [batch('keep-me'), batch('line\nbreak')];
    first.run(stored);
    // The append made them durable: only now are their ids written.
    first.settled(stored, true);
    const text = await readFile(join(dir, 'ids-p1.log'), 'utf8');
    assert.deepEqual(text.trim().split('\n'), [`${now} "keep-me"`, `${now} "line\\nbreak"`]);
    // No close: the lines are in the OS after each batch, as after a kill.
    now += HOUR;
    const second = createEnrichChain(idsOnly(), { marks, dedupeDir: dir, partition: 'p1', now: () => now });
    const [again, odd, fresh] = [batch('keep-me'), batch('line\nbreak'), batch('new')];
    second.run([again, odd, fresh]);
    assert.equal(again.meta.duplicate, true);
    assert.equal(odd.meta.duplicate, true);
    assert.equal(fresh.meta.duplicate, undefined);
    const other = createEnrichChain(idsOnly(), { marks, dedupeDir: dir, partition: 'p2', now: () => now });
    const elsewhere = batch('keep-me');
    other.run([elsewhere]);
    assert.equal(elsewhere.meta.duplicate, undefined, 'each partition has its own file');
  });

  test('writes no id before the append made its event durable: a retry after a kill -9 in between is kept, not dropped', async () => {
    const dir = await tempDir();
    const now = 5_000_000;
    const first = createEnrichChain(idsOnly(), { marks, dedupeDir: dir, partition: 'p1', now: () => now });
    const lost = [batch('never-stored')];
    first.run(lost);
    // Killed here: the append never finished, so the client got no 2xx and will retry.
    const text = await readFile(join(dir, 'ids-p1.log'), 'utf8').catch(() => '');
    assert.equal(text, '', 'no id on disk for an event that is not in the log');
    const second = createEnrichChain(idsOnly(), { marks, dedupeDir: dir, partition: 'p1', now: () => now });
    const retry = batch('never-stored');
    second.run([retry]);
    assert.equal(retry.meta.duplicate, undefined, 'the retry is the first copy the log will hold');
  });

  test('ids of events the log holds but the id file missed (kill -9 after a durable append) are learned at start', async () => {
    const dir = await tempDir();
    const now = 7_000_000;
    const writerOptions = { segmentBytes: 1 << 20, maxBytes: 1 << 24, retryAfterSeconds: 1 };
    const logDir = join(dir, 'log', 'p0');
    const writer = await PartitionWriter.open({ dir: logDir, ...writerOptions });
    const first = createEnrichChain(idsOnly(), { marks, dedupeDir: join(dir, 'dedupe'), now: () => now });
    const stored = [batch('stored-1'), batch('stored-2')];
    first.run(stored);
    await writer.append(stored);
    // Killed here: durable in the log, but `settled` never wrote the ids; the client got no answer.
    await writer.close();
    const text = await readFile(join(dir, 'dedupe', 'ids-p0.log'), 'utf8').catch(() => '');
    assert.equal(text, '', 'the id file missed them');

    const reopened = await PartitionWriter.open({ dir: logDir, ...writerOptions });
    const tail = reopened.takeRecoveredIds();
    assert.deepEqual(tail, ['stored-1', 'stored-2']);
    assert.deepEqual(reopened.takeRecoveredIds(), [], 'handed out once');
    const second = createEnrichChain(idsOnly(), { marks, dedupeDir: join(dir, 'dedupe'), now: () => now });
    second.recovered(tail);
    const retry = [batch('stored-2'), batch('new-1')];
    second.run(retry);
    assert.equal(retry[0]!.meta.duplicate, true, "the client's resend is recognised");
    assert.equal(retry[1]!.meta.duplicate, undefined);
    await reopened.close();
    // Written out, so a second restart knows them without the log.
    const third = createEnrichChain(idsOnly(), { marks, dedupeDir: join(dir, 'dedupe'), now: () => now });
    const again = [batch('stored-1')];
    third.run(again);
    assert.equal(again[0]!.meta.duplicate, true);
  });

  test('reopening compacts: expired ids are gone from memory and file; a torn last line is skipped', async () => {
    const dir = await tempDir();
    let now = 1_000;
    const memory = IdMemory.open({ dir, partition: 'p0', ttlMs: HOUR, maxIds: 100, now: () => now });
    memory.seen('old');
    memory.flush();
    now += HOUR / 2;
    memory.seen('young');
    memory.close();
    const { appendFile } = await import('node:fs/promises');
    await appendFile(join(dir, 'ids-p0.log'), '99999 "tor');
    now += HOUR * 0.75;
    const reopened = IdMemory.open({ dir, partition: 'p0', ttlMs: HOUR, maxIds: 100, now: () => now });
    assert.equal(reopened.size, 1);
    assert.equal(reopened.seen('young'), true);
    assert.equal(reopened.seen('old'), false);
    reopened.close();
    assert.deepEqual(
      (await readFile(join(dir, 'ids-p0.log'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[1]),
      ['"young"', '"old"'],
    );
  });

  test('with action drop a repeated id is left out and counted as BEACON_E_DUPLICATE_DROPPED', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(idsOnly({ action: 'drop' }), { marks, metrics });
    assert.equal(chain.run([batch('o-1')]).length, 1);
    const kept = chain.run([batch('o-1'), batch('o-2')]);
    assert.deepEqual(
      kept.map((e) => e.id),
      ['o-2'],
    );
    const { values } = await metrics.eventsRejected.get();
    assert.deepEqual(
      values.map((v) => [v.labels.code, v.value]),
      [['BEACON_E_DUPLICATE_DROPPED', 1]],
    );
  });
});
