/**
 * `npm run bench` — Beacon against a reference measured in the same run (see docs/performance.md).
 *
 *   npm run bench                         all scenarios, 10 s runs, recorded in docs/performance.md
 *   npm run bench -- --quick --only pixel a smoke test (3 s runs, not recorded)
 *   npm run bench -- --only rabbitmq,jetstream,kafka,amqp-e2e   the broker scenarios only
 *   npm run bench -- --only postgres,mysql,clickhouse          the database sink scenarios only
 *   npm run bench -- --only api            the query API over 1M stored events only
 *   npm run bench -- --help
 *
 * Exit code: 0 when every requested scenario ran; 1 when one could not (e.g. Beacon failed to
 * start), or with --strict when a figure missed its target; 2 on bad options.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_BEACON, REPO_ROOT, checkBeaconPresent } from './beacon.js';
import { buildBeacon } from './build.js';
import { pinToCores } from './cores.js';
import { BenchContext } from './context.js';
import { machineInfo } from './machine.js';
import { DATABASE_SCENARIOS, parseOptions, type BenchOptions, type Scenario } from './options.js';
import { installCleanupHandlers } from './proc.js';
import { appendSection, consoleReport, markdownSection, newResult, type ScenarioResult } from './report.js';
import type { RssPeak } from './rss.js';
import { api, apiEvents } from './scenarios/api.js';
import { batch } from './scenarios/batch.js';
import { dispatch } from './scenarios/dispatch.js';
import { enrich } from './scenarios/enrich.js';
import { pixel } from './scenarios/pixel.js';
import { amqpE2e, amqpE2eEvents } from './scenarios/amqpE2e.js';
import { jetstreamEvents, jetstreamScenario } from './scenarios/jetstream.js';
import { kafka, kafkaEvents } from './scenarios/kafka.js';
import { rabbitmq, rabbitmqEvents } from './scenarios/rabbitmq.js';
import { clickhouse } from './scenarios/clickhouse.js';
import { mysqlScenario } from './scenarios/mysql.js';
import { postgres } from './scenarios/postgres.js';
import { s3, s3Events } from './scenarios/s3.js';
import { sqlBenchRows } from './sqlSinkBench.js';

const RUNNERS: Record<Scenario, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  pixel,
  enrich,
  batch,
  dispatch,
  rabbitmq,
  jetstream: jetstreamScenario,
  kafka,
  'amqp-e2e': amqpE2e,
  postgres,
  mysql: mysqlScenario,
  clickhouse,
  s3,
  api,
};
export const DOC_PATH = join(REPO_ROOT, 'docs/performance.md');

function settings(o: BenchOptions): string {
  return [
    `scenarios ${o.only.join(', ')}`,
    `${o.durationSec} s measured after ${o.warmupSec} s warm-up per server`,
    `wrk -t${o.threads} -c${o.connections}`,
    o.only.includes('batch') ? `${o.batchSize} events per POST /batch` : '',
    o.only.includes('dispatch') ? `${o.dispatchEvents.toLocaleString('en-US')} events pre-filled for dispatch` : '',
    o.only.includes('rabbitmq') ? `rabbitmq ${rabbitmqEvents(o.quick).toLocaleString('en-US')} messages` : '',
    o.only.includes('jetstream') ? `jetstream ${jetstreamEvents(o.quick).toLocaleString('en-US')} messages` : '',
    o.only.includes('kafka') ? `kafka ${kafkaEvents(o.quick).toLocaleString('en-US')} records` : '',
    o.only.includes('amqp-e2e') ? `amqp-e2e ${amqpE2eEvents(o.quick).toLocaleString('en-US')} messages` : '',
    o.only.some((s) => (DATABASE_SCENARIOS as readonly string[]).includes(s))
      ? `${sqlBenchRows(o.quick).toLocaleString('en-US')} rows per database scenario`
      : '',
    o.only.includes('s3') ? `s3 ${s3Events(o.quick).toLocaleString('en-US')} events` : '',
    o.only.includes('api') ? `api ${apiEvents(o.quick).toLocaleString('en-US')} stored events` : '',
    o.quick ? 'quick mode' : '',
    o.referenceOnly ? 'reference only' : '',
    o.cores !== undefined
      ? `pinned to ${o.cores} core${o.cores === 1 ? '' : 's'} (taskset; database and broker services not pinned)`
      : '',
  ]
    .filter(Boolean)
    .join('; ');
}

function combineRss(peaks: RssPeak[]): RssPeak | undefined {
  if (!peaks.length) return undefined;
  return peaks.reduce((a, b) => ({
    sumHwmMiB: Math.max(a.sumHwmMiB, b.sumHwmMiB),
    maxTotalRssMiB: Math.max(a.maxTotalRssMiB, b.maxTotalRssMiB),
    maxProcessHwmMiB: Math.max(a.maxProcessHwmMiB, b.maxProcessHwmMiB),
    processes: Math.max(a.processes, b.processes),
  }));
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  if (opts.cores !== undefined) {
    try {
      pinToCores(opts.cores);
    } catch (e) {
      console.error((e as Error).message);
      return 2;
    }
  }
  installCleanupHandlers();
  const tmp = mkdtempSync(join(tmpdir(), 'beacon-bench-'));
  const ctx = new BenchContext(opts, tmp);
  const machine = machineInfo();
  const date = new Date();
  ctx.log(`Beacon bench — ${settings(opts)}`);
  ctx.log(`machine: ${machine.nproc} cores, ${machine.cpuModel}; temp dir ${tmp}`);

  const results: ScenarioResult[] = [];
  try {
    if (!opts.referenceOnly && BUILD_BEACON) {
      try {
        checkBeaconPresent();
        await buildBeacon(REPO_ROOT, (m) => ctx.log(m));
      } catch (e) {
        // Scenarios then report Beacon as unavailable (a missing dist/ entry) and measure the reference.
        ctx.log(`build failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    for (const name of opts.only) {
      ctx.log(`── ${name}`);
      try {
        results.push(await RUNNERS[name](ctx));
      } catch (e) {
        // A reference failure (nginx, wrk) is a harness problem: report and go on.
        const r = newResult(name);
        r.error = (e as Error).message;
        results.push(r);
        ctx.log(`${name} failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    await ctx.shutdown();
    if (!opts.keepTmp) rmSync(tmp, { recursive: true, force: true });
    else ctx.log(`kept ${tmp}`);
  }

  const rss = combineRss(ctx.rssPeaks);
  console.log(`\n${consoleReport(results, rss)}\n`);

  if (opts.record) {
    appendSection(
      DOC_PATH,
      markdownSection({ date, machine, settings: settings(opts), results, rss, referenceOnly: opts.referenceOnly }),
    );
    console.log(`appended to ${DOC_PATH}`);
  } else {
    console.log('not recorded in docs/performance.md (quick run; pass --record to keep it)');
  }

  const failed = results.filter((r) => r.error);
  const missed = results
    .flatMap((r) => r.ratios)
    .filter((x) => x.target !== undefined && Number.isFinite(x.value) && x.value < x.target);
  if (failed.length) {
    console.error(`bench: ${failed.map((r) => r.name).join(', ')} could not be measured completely (see above)`);
    return 1;
  }
  if (opts.strict && missed.length) {
    console.error(`bench: below target: ${missed.map((x) => x.label).join(', ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
