import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it, before, after } from 'node:test';
import { appendEnriched, createEnrichChain } from '../../../src/enrich/chain.js';
import { checksumHex } from '../../../src/enrich/checksum.js';
import { checksumParam, markCorrupt, verifyChecksum } from '../../../src/enrich/corruption.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { checksum as trackerChecksum } from '../../../tracker/src/checksum.js';
import { metricValue, postJson, startCollector } from '../http/harness.js';
import { enrichConfig, httpEvent, UA } from './fixtures.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('the checksum', () => {
  it('is FNV-1a 32 (the published test vectors)', () => {
    assert.equal(checksumHex(bytes('')), '811c9dc5');
    assert.equal(checksumHex(bytes('a')), 'e40c292c');
    assert.equal(checksumHex(bytes('foobar')), 'bf9cf968');
  });

  it('is the same in the tracker (over a string) and in the collector (over its UTF-8 bytes)', () => {
    const texts = [
      '',
      '[{"type":"pageview"}]',
      'päge — ünïcode ✓',
      'emoji 🎉 and 𝄞',
      JSON.stringify([{ type: 'x', props: { s: '\u2028\u0000"' } }]),
      'x'.repeat(70_000),
    ];
    for (const text of texts) assert.equal(trackerChecksum(text), checksumHex(bytes(text)), text.slice(0, 40));
  });

  it('is read from `cs` anywhere in the query; absent means not checked, malformed means corrupt', () => {
    assert.equal(checksumParam(''), undefined);
    assert.equal(checksumParam('a=1&cs=0000abcd&b=2'), '0000abcd');
    assert.equal(checksumParam('acs=1&b=2'), undefined);
    const body = bytes('[{"type":"a"}]');
    assert.equal(verifyChecksum('v=1', body), undefined);
    assert.equal(verifyChecksum(`cs=${checksumHex(body)}`, body), undefined);
    assert.equal(verifyChecksum(`cs=${checksumHex(body).toUpperCase()}`, body), undefined);
    assert.match(
      verifyChecksum('cs=zz', body)!,
      /does not match its checksum: cs="zz", computed [0-9a-f]{8} \(FNV-1a 32 of the 14 body bytes\)/,
    );
  });
});

describe('the collector checks the checksum of POST bodies', () => {
  it('flags every event of a /batch whose body does not match, and none of one that does or carries no cs', async () => {
    const collector = await startCollector({ browser: { verifyChecksum } });
    try {
      const body = JSON.stringify([{ type: 'a' }, { type: 'b' }]);
      assert.equal((await postJson(collector, `/batch?cs=${checksumHex(bytes(body))}`, body)).status, 200);
      assert.equal((await postJson(collector, '/batch', body)).status, 200);
      const tampered = body.replace('"b"', '"c"');
      assert.equal((await postJson(collector, `/batch?cs=${checksumHex(bytes(body))}`, tampered)).status, 200);
      const flags = collector.recorder.events.map((e) => e.meta.corrupt);
      assert.deepEqual(flags, [undefined, undefined, undefined, undefined, true, true]);
    } finally {
      await collector.close();
    }
  });

  it('checks POST /t/<type> too, over the body after gzip is undone', async () => {
    const collector = await startCollector({ browser: { verifyChecksum } });
    try {
      const body = JSON.stringify({ plan: 'pro' });
      const cs = checksumHex(bytes(body));
      const ok = await collector.send({
        method: 'POST',
        path: `/t/signup?cs=${cs}`,
        body: gzipSync(body),
        headers: { 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' },
      });
      assert.equal(ok.status, 204);
      await postJson(collector, `/t/signup?cs=${cs}`, JSON.stringify({ plan: 'free' }));
      assert.deepEqual(
        collector.recorder.events.map((e) => e.meta.corrupt),
        [undefined, true],
      );
    } finally {
      await collector.close();
    }
  });
});

describe('the chain applies enrich.corruption.action', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'beacon-corrupt-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  function corruptEvent(id: string): TrackedEvent {
    const event = httpEvent({ ip: '203.0.113.77', ua: UA.chrome });
    event.id = id;
    markCorrupt(event, 'the body does not match its checksum: test');
    return event;
  }

  it('flag: writes corrupt events, flagged and counted', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(enrichConfig(), { metrics });
    const written: TrackedEvent[] = [];
    assert.equal(
      await appendEnriched(chain, [corruptEvent('c1'), httpEvent()], async (events) => void written.push(...events)),
      2,
    );
    assert.equal(written[0]!.meta.corrupt, true);
    assert.equal(await metricValue(metrics.enrichCorrupt, { action: 'flag' }), 1);
  });

  it('drop: leaves them out, counted as BEACON_E_CORRUPT_DROPPED', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(enrichConfig({ corruption: { action: 'drop' } }), { metrics });
    const written: TrackedEvent[] = [];
    assert.equal(
      await appendEnriched(chain, [corruptEvent('c2'), httpEvent()], async (events) => void written.push(...events)),
      1,
    );
    assert.deepEqual(
      written.map((e) => e.meta.corrupt),
      [undefined],
    );
    assert.equal(await metricValue(metrics.eventsRejected, { source: 'http', code: 'BEACON_E_CORRUPT_DROPPED' }), 1);
    assert.equal(await metricValue(metrics.enrichCorrupt, { action: 'drop' }), 1);
  });

  it('dead-letter: writes them enriched, with the reason, to dlq/corrupt-<partition>.ndjson before appending the rest', async () => {
    const metrics = createMetrics();
    const dlq = join(dir, 'dlq');
    const chain = createEnrichChain(enrichConfig({ corruption: { action: 'dead-letter' } }), {
      metrics,
      deadLetterDir: dlq,
      partition: 'p3',
    });
    const written: TrackedEvent[] = [];
    const appended = await appendEnriched(chain, [corruptEvent('c3'), httpEvent()], async (events) => {
      assert.ok(
        (await readFile(join(dlq, 'corrupt-p3.ndjson'), 'utf8')).includes('"c3"'),
        'the dead letter is on disk before the log append',
      );
      written.push(...events);
    });
    assert.equal(appended, 1);
    assert.equal(written.length, 1);
    const lines = (await readFile(join(dlq, 'corrupt-p3.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 1);
    const entry = lines[0] as { source: string; code: string; reason: string; event: TrackedEvent };
    assert.equal(entry.code, 'BEACON_E_CORRUPT_DEAD_LETTERED');
    assert.equal(entry.source, 'http');
    assert.equal(entry.reason, 'the body does not match its checksum: test');
    assert.equal(entry.event.id, 'c3');
    assert.equal(entry.event.ip, '203.0.113.0', 'the address is anonymised like everything written to disk');
    assert.equal(entry.event.meta.corrupt, true);
    assert.equal((entry.event.meta.ua as { browser: string }).browser, 'Chrome');
    assert.equal(
      await metricValue(metrics.eventsRejected, { source: 'http', code: 'BEACON_E_CORRUPT_DEAD_LETTERED' }),
      1,
    );
  });

  it('dead-letter: a dead letter that cannot be written fails the request, so the client retries', async () => {
    const blocked = join(dir, 'blocked');
    await writeFile(blocked, 'a file where the dlq directory should be');
    const chain = createEnrichChain(enrichConfig({ corruption: { action: 'dead-letter' } }), {
      deadLetterDir: blocked,
    });
    let appended = false;
    await assert.rejects(
      appendEnriched(chain, [corruptEvent('c4'), httpEvent()], async () => {
        appended = true;
      }),
      (err: Error & { code?: string }) => err.code === 'BEACON_E_LOG_IO',
    );
    assert.equal(appended, false);
  });
});
