import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appendEnriched, createEnrichChain } from '../../../src/enrich/chain.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { batchEvent, type RequestFacts } from '../../../src/event/fromSubmitted.js';
import { compileRules } from '../../../src/event/rules.js';
import { ResendMarks } from '../../../src/event/resendMarks.js';
import { enrichConfig } from './fixtures.js';

const rules = compileRules({
  typePattern: '^[a-z]+$',
  propsBytes: 65536,
  propsDepth: 8,
  bodyBytes: 1,
  decompressedBytes: 1,
  batchEvents: 10,
});

/** The marks the collector writes and the chain's id step reads (one per process in Beacon). */
const marks = new ResendMarks();

/**
 * A /batch element with client id `id`, as the collector builds it; `resend` as from a
 * `POST /batch?resend=1`. The client time comes from the id, so a resend has the same request
 * fingerprint as its first copy (as beacon.js's resends do).
 */
function element(id: string, resend = false): TrackedEvent {
  const facts: RequestFacts = { ts: 1_700_000_000_000, ip: '10.0.0.1', ua: 'test', referer: undefined, marks };
  const event = batchEvent(
    { type: 'order', id, ts: 1_600_000_000_000 + id.length * 1000 + id.charCodeAt(id.length - 1), props: { id } },
    facts,
    rules,
    100,
  ) as TrackedEvent;
  if (resend) marks.markResent(event);
  return event;
}

async function counts(
  metrics: Metrics,
): Promise<{ tiers: Array<[unknown, number]>; dropped: Array<[unknown, number]> }> {
  const tiers = (await metrics.enrichDuplicates.get()).values.map((v) => [v.labels.tier, v.value] as [unknown, number]);
  const dropped = (await metrics.eventsRejected.get()).values.map((v) => [v.labels.code, v.value] as [unknown, number]);
  return { tiers, dropped };
}

/** Stores `events` through the chain as the collector does; returns what was written. */
async function store(chain: ReturnType<typeof createEnrichChain>, events: TrackedEvent[]): Promise<TrackedEvent[]> {
  const written: TrackedEvent[] = [];
  await appendEnriched(chain, events, async (kept) => {
    written.push(...kept);
  });
  return written;
}

describe('blind resends (POST /batch?resend=1)', () => {
  test('with action flag: a resend of a known id is dropped, a resend of an unknown id is stored unflagged', async () => {
    const metrics = createMetrics();
    // Both tiers on (the defaults): the request tier must not flag the resend of a lost first copy.
    const chain = createEnrichChain(enrichConfig({ duplicates: { action: 'flag' } }), { metrics, marks });
    assert.deepEqual(
      (await store(chain, [element('beaconed')])).map((e) => e.id),
      ['beaconed'],
      'the beacon arrived',
    );

    const resend = [element('beaconed', true), element('lost', true)];
    const written = await store(chain, resend);
    assert.deepEqual(
      written.map((e) => e.id),
      ['lost'],
      'the copy already held is left out, the lost one stored',
    );
    assert.equal(written[0]!.meta.duplicate, undefined, 'the lost first copy is no duplicate');
    assert.deepEqual(await counts(metrics), { tiers: [['resend', 1]], dropped: [['BEACON_E_DUPLICATE_DROPPED', 1]] });

    // The lost copy is now held: a second resend of it is dropped too.
    assert.deepEqual(await store(chain, [element('lost', true)]), []);
  });

  test('a repeat that is no resend is still flagged (and kept) with action flag', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(enrichConfig({ duplicates: { action: 'flag' } }), { metrics, marks });
    await store(chain, [element('again')]);
    const written = await store(chain, [element('again')]);
    assert.deepEqual(
      written.map((e) => [e.id, e.meta.duplicate]),
      [['again', true]],
    );
    assert.deepEqual(await counts(metrics), { tiers: [['id', 1]], dropped: [] });
  });

  test('with action drop both are dropped, each counted by its tier', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(enrichConfig({ duplicates: { action: 'drop' } }), { metrics, marks });
    await store(chain, [element('x'), element('y')]);
    const written = await store(chain, [element('x'), element('z', true), element('y', true)]);
    assert.deepEqual(
      written.map((e) => [e.id, e.meta.duplicate]),
      [['z', undefined]],
    );
    assert.deepEqual(await counts(metrics), {
      tiers: [
        ['id', 1],
        ['resend', 1],
      ],
      dropped: [['BEACON_E_DUPLICATE_DROPPED', 2]],
    });
  });

  test('a resend of a known id is dropped within the resend batch too, and its id stays held if the append fails', async () => {
    const chain = createEnrichChain(enrichConfig({ duplicates: { action: 'flag', memory: { enabled: false } } }), {
      marks,
    });
    await store(chain, [element('held')]);
    await assert.rejects(
      appendEnriched(chain, [element('held', true), element('fresh', true)], () =>
        Promise.reject(new Error('log full')),
      ),
      /log full/,
    );
    const written = await store(chain, [element('held', true), element('fresh', true)]);
    assert.deepEqual(
      written.map((e) => [e.id, e.meta.duplicate]),
      [['fresh', undefined]],
      'the failed batch forgot only the id it added',
    );
  });

  test('without the id tier a resend is stored as any event (the request tier flags per the action)', async () => {
    const chain = createEnrichChain(enrichConfig({ duplicates: { action: 'flag', ids: { enabled: false } } }), {
      marks,
    });
    await store(chain, [element('r')]);
    const written = await store(chain, [element('r', true)]);
    assert.deepEqual(
      written.map((e) => [e.id, e.meta.duplicate]),
      [['r', true]],
    );
  });
});
