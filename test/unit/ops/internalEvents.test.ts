import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { defineInternalEvent } from '../../../src/ops/internalEvent.js';
import { INTERNAL_EVENT_PARTS, internalEventsDoc } from '../../../src/ops/internalEventCatalogue.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { embeddedStoreMetrics } from '../../../src/store/embedded/storeMetrics.js';
import { storeMetrics } from '../../../src/store/sql/storeMetrics.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DOC = join(ROOT, 'docs', 'operations.md');
const START = '<!-- internal-events:start (generated from src/ops/internalEventCatalogue.ts) -->';
const END = '<!-- internal-events:end -->';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const events = INTERNAL_EVENT_PARTS.flatMap((p) => p.events);

describe('the internal event catalogue', () => {
  it('is the table docs/operations.md shows (BEACON_WRITE_DOCS=1 rewrites it)', () => {
    const doc = readFileSync(DOC, 'utf8');
    const start = doc.indexOf(START);
    const end = doc.indexOf(END);
    assert.ok(start !== -1 && end > start, `docs/operations.md lacks the ${START} ... ${END} markers`);
    const expected = `${START}\n\n${internalEventsDoc()}\n\n${END}`;
    const shown = doc.slice(start, end + END.length);
    if (shown !== expected && process.env.BEACON_WRITE_DOCS === '1') {
      writeFileSync(DOC, doc.slice(0, start) + expected + doc.slice(end + END.length));
      return;
    }
    assert.equal(
      shown,
      expected,
      'docs/operations.md and the catalogue differ; run with BEACON_WRITE_DOCS=1 to rewrite the table',
    );
  });

  it('names every event once', () => {
    const names = events.map((e) => e.name);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
    );
  });

  it('names only metrics that /metrics serves', () => {
    const registry = new Registry();
    createMetrics(registry, { defaultMetrics: false });
    embeddedStoreMetrics(registry);
    storeMetrics(registry);
    for (const e of events)
      for (const [metric] of (e.metric ?? '').matchAll(/beacon_\w+/g))
        assert.ok(registry.getSingleMetric(metric), `${e.name} names ${metric}, which no metrics module registers`);
  });

  it('holds every event name that src/ logs', () => {
    const known = new Set(events.map((e) => e.name));
    for (const file of sourceFiles(join(ROOT, 'src')))
      for (const m of readFileSync(file, 'utf8').matchAll(/\bevent: '([a-z_]+)'/g))
        assert.ok(known.has(m[1]!), `${file} logs event ${m[1]}, which no internalEvents.ts defines`);
  });
});

describe('defineInternalEvent', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    return { logger, lines };
  }

  it('writes the declared fields and moves the metric from the same call', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'test_things_total', help: 'x', labelNames: ['kind'], registers: [registry] });
    const thing = defineInternalEvent<{ kind: string; n: number }, Counter<'kind'>>('thing_done', {
      about: 'a thing was done',
      level: 'warn',
      fields: { kind: true, n: true },
      message: (f) => `did ${f.n}`,
      metric: { name: 'test_things_total{kind}', record: (c, f) => c.inc({ kind: f.kind }, f.n) },
    });
    const { logger, lines } = capture();
    const extra = { kind: 'a', n: 3, password: 'hunter2' };
    thing.emit({ logger, metrics: counter }, extra);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.event, 'thing_done');
    assert.equal(lines[0]!.kind, 'a');
    assert.equal(lines[0]!.n, 3);
    assert.equal(lines[0]!.msg, 'did 3');
    assert.equal(lines[0]!.level, 40);
    assert.equal(lines[0]!.password, undefined, 'a field the event does not declare is not logged');
    assert.equal((await counter.get()).values.find((v) => v.labels.kind === 'a')?.value, 3);
    assert.deepEqual(thing.info, {
      name: 'thing_done',
      level: 'warn',
      fields: ['kind', 'n'],
      metric: 'test_things_total{kind}',
      about: 'a thing was done',
    });
  });

  it('logs nothing for a metric-only event, and picks a level from the fields when told to', () => {
    const { logger, lines } = capture();
    let moved = 0;
    const quiet = defineInternalEvent<{ n: number }, { add: (n: number) => void }>('quiet', {
      about: 'x',
      level: 'debug',
      logged: false,
      fields: { n: true },
      message: '',
      metric: { name: 'm', record: (m, f) => m.add(f.n) },
    });
    quiet.emit({ logger, metrics: { add: (n) => (moved += n) } }, { n: 2 });
    assert.equal(moved, 2);
    assert.equal(lines.length, 0);
    const picky = defineInternalEvent<{ bad: boolean }>('picky', {
      about: 'x',
      level: { of: (f) => (f.bad ? 'error' : 'info'), doc: 'info; error when bad' },
      fields: { bad: true },
      message: 'picked',
    });
    picky.emit({ logger }, { bad: true });
    picky.emit({ logger }, { bad: false });
    assert.deepEqual(
      lines.map((l) => l.level),
      [50, 30],
    );
    assert.equal(picky.info.level, 'info; error when bad');
  });
});
