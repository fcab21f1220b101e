/**
 * The embedded store's CPU per stored event: `node --import tsx bench/storeCost.ts [--events N] [--batch N]`.
 *
 * Feeds N typical browser events (bench/storeFill.ts's shape) through the internal sink
 * (`EmbeddedStoreSink` over `EventWriter`, the store's default settings) in batches of the
 * sink's default size, into a fresh store in a temp dir, and reads `process.cpuUsage()` (every
 * thread of the process: JavaScript and DuckDB's) around the deliveries only. Each event is
 * first turned into what a cursor hands the sink (parsed from its log text, with the text kept),
 * outside the measured time. Then delivers the same batches again (a redelivery: nothing may
 * be written twice) and checks the table holds exactly N rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromLog, jsonText } from '../src/event/codecs/json.js';
import type { TrackedEvent } from '../src/event/trackedEvent.js';
import { EventWriter } from '../src/store/embedded/eventWriter.js';
import { StoreDatabase } from '../src/store/embedded/storeDatabase.js';
import { EmbeddedStoreSink } from '../src/store/embedded/storeSink.js';
import { makeEvent } from './storeFill.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const total = arg('--events', 100_000);
const batchSize = arg('--batch', 1000);
const dir = await mkdtemp(join(tmpdir(), 'beacon-storecost-'));
const now = Date.now();
const batches: TrackedEvent[][] = [];
for (let i = 0; i < total; i += batchSize) {
  const batch: TrackedEvent[] = [];
  for (let k = i; k < Math.min(total, i + batchSize); k++) {
    const text = jsonText(makeEvent(now - total + k, k));
    batch.push(fromLog(JSON.parse(text) as TrackedEvent, text));
  }
  batches.push(batch);
}
const db = await StoreDatabase.open({
  dir: join(dir, 'store'),
  memoryLimitBytes: 48 * 1024 ** 2,
  threads: 1,
  maxTempBytes: 1024 ** 3,
});
try {
  const sink = new EmbeddedStoreSink(new EventWriter(db.writer));
  const measure = async (label: string) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const batch of batches) await sink.deliver(batch);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const us = (cpu.user + cpu.system) / total;
    console.log(
      `${label}: ${total} events in batches of ${batchSize}: ${us.toFixed(1)} µs CPU per event (user ${(cpu.user / total).toFixed(1)}, system ${(cpu.system / total).toFixed(1)}), ${(total / (wall / 1000)).toFixed(0)} events/s wall`,
    );
  };
  await measure('first delivery');
  await measure('redelivery');
  const rows = await db.writer.use(async (c) =>
    (await c.runAndReadAll('SELECT count(*) AS n, count(DISTINCT id) AS d FROM events')).getRowObjectsJS(),
  );
  const { n, d } = rows[0] as { n: bigint; d: bigint };
  if (Number(n) !== total || Number(d) !== total)
    throw new Error(`the store holds ${n} rows (${d} distinct ids), expected ${total}`);
  console.log(
    `store holds ${n} rows, ${d} distinct ids; load average ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await db.close();
  await rm(dir, { recursive: true, force: true });
}
