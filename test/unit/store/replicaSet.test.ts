import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../src/ops/logger.js';
import { ReadTimeoutError } from '../../../src/store/sql/readTimeout.js';
import { ReplicaSet, type ReadTarget } from '../../../src/store/sql/replicaSet.js';
import { storeMetrics } from '../../../src/store/sql/storeMetrics.js';
import { waitUntil } from '../../support/waitFor.js';

/**
 * The replica set's rules with targets that stand in for servers (the real failover, against
 * a streaming PostgreSQL replica, is test/integration/replicas.test.ts): which server a read
 * goes to, what a failure does, and when a server that failed is tried again.
 */
class FakeServer implements ReadTarget {
  down = false;
  reads = 0;
  pings: number[] = [];
  closed = false;
  constructor(
    readonly role: 'writer' | 'replica',
    readonly label: string,
  ) {}

  async read(): Promise<string> {
    this.reads++;
    if (this.down) throw Object.assign(new Error(`connect ECONNREFUSED ${this.label}`), { code: 'ECONNREFUSED' });
    return this.label;
  }

  async ping(): Promise<void> {
    this.pings.push(Date.now());
    if (this.down) throw new Error('still down');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

class TableMissing extends Error {}

function setup(replicaCount: number, backoffMs = 20, maxBackoffMs = 80) {
  const registry = new Registry();
  const writer = new FakeServer('writer', 'writer:5432/db');
  const replicas = Array.from({ length: replicaCount }, (_, i) => new FakeServer('replica', `replica${i + 1}:5432/db`));
  const set = new ReplicaSet(writer, replicas, {
    kind: 'postgres',
    backoffMs,
    maxBackoffMs,
    isUnavailable: (err) => !(err instanceof TableMissing),
    isTimeout: (err) => (err as { code?: unknown }).code === '57014',
    metrics: storeMetrics(registry),
    logger: silentLogger,
  });
  const up = async (label: string) =>
    (await registry.getSingleMetric('beacon_store_replica_up')!.get()).values.find((v) => v.labels.target === label)
      ?.value;
  return { writer, replicas, set, registry, up };
}

describe('replica set', () => {
  it('sends reads round-robin to the replicas and none to the writer while they answer', async () => {
    const { writer, replicas, set } = setup(3);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await set.read((t) => t.read()));
    assert.deepEqual(answers, [
      'replica1:5432/db',
      'replica2:5432/db',
      'replica3:5432/db',
      'replica1:5432/db',
      'replica2:5432/db',
      'replica3:5432/db',
    ]);
    assert.equal(writer.reads, 0);
    assert.deepEqual(
      replicas.map((r) => r.reads),
      [2, 2, 2],
    );
    await set.close();
  });

  it('reads from the writer when there are no replicas', async () => {
    const { writer, set } = setup(0);
    assert.equal(await set.read((t) => t.read()), 'writer:5432/db');
    assert.equal(writer.reads, 1);
    await set.close();
  });

  it('retries a read that a replica cannot answer on the next one, and takes the failed one out', async () => {
    const { writer, replicas, set, up } = setup(2, 10_000);
    replicas[0]!.down = true;
    assert.equal(await set.read((t) => t.read()), 'replica2:5432/db');
    assert.equal(await up('replica1:5432/db'), 0);
    assert.equal(await up('replica2:5432/db'), 1);
    // Out of the rotation: later reads do not try it (its back-off is long here).
    for (let i = 0; i < 4; i++) assert.equal(await set.read((t) => t.read()), 'replica2:5432/db');
    assert.equal(replicas[0]!.reads, 1);
    assert.equal(writer.reads, 0);
    assert.deepEqual(
      set.health().map((h) => [h.target, h.up]),
      [
        ['writer:5432/db', true],
        ['replica1:5432/db', false],
        ['replica2:5432/db', true],
      ],
    );
    assert.match(set.health()[1]!.lastError!, /ECONNREFUSED/);
    await set.close();
  });

  it('falls back to the writer when every replica is out, then returns to a replica once a probe succeeds', async () => {
    const { writer, replicas, set, up } = setup(1, 20, 80);
    replicas[0]!.down = true;
    assert.equal(await set.read((t) => t.read()), 'writer:5432/db');
    assert.equal(await set.read((t) => t.read()), 'writer:5432/db');
    assert.equal(replicas[0]!.reads, 1, 'the second read went straight to the writer');
    // Probes keep failing: the wait between them doubles up to the ceiling.
    await waitUntil('four probes', () => replicas[0]!.pings.length >= 4, 2000, 5);
    const gaps = replicas[0]!.pings.slice(1).map((t, i) => t - replicas[0]!.pings[i]!);
    assert.ok(
      gaps[0]! >= 35 && gaps[1]! >= 75 && gaps[2]! >= 75 && gaps[2]! < 1000,
      `probe gaps ${gaps.join(', ')} ms: 40, 80, 80`,
    );
    replicas[0]!.down = false;
    await waitUntil('the replica back', async () => (await up('replica1:5432/db')) === 1, 2000, 5);
    const writerReads = writer.reads;
    assert.equal(await set.read((t) => t.read()), 'replica1:5432/db');
    assert.equal(writer.reads, writerReads);
    await set.close();
  });

  it('throws a failure that is about the query itself at once, without trying elsewhere', async () => {
    const { writer, replicas, set, up } = setup(2);
    await assert.rejects(
      set.read(() => Promise.reject(new TableMissing('no table'))),
      TableMissing,
    );
    assert.equal(writer.reads + replicas[0]!.reads + replicas[1]!.reads, 0);
    assert.equal(await up('replica1:5432/db'), 1, 'the replica stays in');
    await set.close();
  });

  it('answers a query timeout with BEACON_E_STORE_TIMEOUT (504) at once: no failover, nothing taken out', async () => {
    const { writer, replicas, set, up } = setup(2, 10_000);
    const timeouts = [
      () => Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
      () => new ReadTimeoutError('postgres', 'replica', 300),
    ];
    for (const timeout of timeouts) {
      const tried: string[] = [];
      await assert.rejects(
        set.read((t) => {
          tried.push(t.label);
          return Promise.reject(timeout());
        }),
        (err: Error & { code?: string; status?: number }) => {
          assert.equal(err.code, 'BEACON_E_STORE_TIMEOUT');
          assert.equal(err.status, 504);
          assert.match(err.message, /did not finish the query in time.*narrow the query.*store\.queryTimeout/);
          return true;
        },
      );
      assert.equal(tried.length, 1, 'a slow query is slow everywhere: it is not tried again elsewhere');
      assert.match(tried[0]!, /^replica/);
    }
    assert.equal(await up('replica1:5432/db'), 1, 'the replicas stay in the rotation');
    assert.equal(await up('replica2:5432/db'), 1);
    assert.ok(set.health().every((h) => h.up));
    assert.deepEqual([await set.read((t) => t.read()), await set.read((t) => t.read())].sort(), [
      'replica1:5432/db',
      'replica2:5432/db',
    ]);
    assert.equal(writer.reads, 0, 'nothing landed on the writer');
    assert.equal(replicas[0]!.pings.length + replicas[1]!.pings.length, 0, 'nothing to probe');
    await set.close();
  });

  it('answers a timeout on the writer (no replicas) with BEACON_E_STORE_TIMEOUT, not UNAVAILABLE', async () => {
    const { set } = setup(0);
    await assert.rejects(
      set.read(() => Promise.reject(new ReadTimeoutError('mysql', 'writer', 300))),
      { code: 'BEACON_E_STORE_TIMEOUT' },
    );
    await set.close();
  });

  it('answers BEACON_E_STORE_UNAVAILABLE naming every server tried when the writer fails too', async () => {
    const { writer, replicas, set, registry } = setup(2, 10_000);
    for (const s of [writer, ...replicas]) s.down = true;
    await assert.rejects(
      set.read((t) => t.read()),
      (err: Error & { code?: string; status?: number }) => {
        assert.equal(err.code, 'BEACON_E_STORE_UNAVAILABLE');
        assert.equal(err.status, 503);
        assert.match(
          err.message,
          /replica replica1:5432\/db: connect ECONNREFUSED .*; replica replica2:5432\/db: .*; writer writer:5432\/db: connect ECONNREFUSED/,
        );
        return true;
      },
    );
    const failed = (await registry.getSingleMetric('beacon_store_queries_total')!.get()).values
      .filter((v) => v.labels.outcome === 'failed')
      .map((v) => `${v.labels.role} ${v.value}`);
    assert.deepEqual(failed.sort(), ['replica 1', 'replica 1', 'writer 1']);
    await set.close();
  });

  it('closes every server and stops probing on close', async () => {
    const { writer, replicas, set } = setup(1, 20);
    replicas[0]!.down = true;
    await set.read((t) => t.read());
    await set.close();
    const pings = replicas[0]!.pings.length;
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(replicas[0]!.pings.length, pings);
    assert.ok(writer.closed && replicas[0]!.closed);
  });
});
