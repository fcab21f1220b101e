/** Command-line options of `npm run bench -- ...`. */

export const SCENARIOS = [
  'pixel',
  'enrich',
  'batch',
  'dispatch',
  'rabbitmq',
  'jetstream',
  'kafka',
  'amqp-e2e',
  'postgres',
  'mysql',
  'clickhouse',
  's3',
  'api',
] as const;
/** Scenarios that need the machine's RabbitMQ (127.0.0.1:5672), NATS (127.0.0.1:4222) or kcat and the Kafka mock. */
export const BROKER_SCENARIOS = ['rabbitmq', 'jetstream', 'kafka', 'amqp-e2e'] as const;
/**
 * Scenarios that need the machine's PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) with
 * psql and mariadb, or start a private ClickHouse (scripts/ensure-clickhouse.sh).
 */
export const DATABASE_SCENARIOS = ['postgres', 'mysql', 'clickhouse'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  /** Seconds per measured wrk run. */
  durationSec: number;
  /** Seconds of untimed load before each measured run. */
  warmupSec: number;
  connections: number;
  threads: number;
  /** Events pre-filled for the dispatch scenario. */
  dispatchEvents: number;
  /** Events per POST /batch in the batch scenario. */
  batchSize: number;
  only: Scenario[];
  quick: boolean;
  /** Append a section to docs/performance.md. */
  record: boolean;
  /** Exit non-zero when a figure misses its target. */
  strict: boolean;
  /** Skip Beacon; measure the reference only (checks the harness). */
  referenceOnly: boolean;
  keepTmp: boolean;
  /** Pin the bench and everything it starts to the first N CPUs (taskset); undefined: all. */
  cores?: number;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick              3 s runs, 1 s warm-up, 100k dispatch events, fewer broker messages,
                       20k database rows (200k in a full run); not recorded unless --record
  --duration SEC       seconds per measured run (default 10)
  --warmup SEC         seconds of warm-up before each run (default 2)
  --connections N      wrk connections (default 64)
  --threads N          wrk threads (default 1)
  --events N           events pre-filled for dispatch (default 500000)
  --batch-size N       events per POST /batch (default 20)
  --only a,b           scenarios to run: ${SCENARIOS.join(', ')} (default all;
                       the broker ones, ${BROKER_SCENARIOS.join(', ')}, add about 1 minute;
                       the database ones, ${DATABASE_SCENARIOS.join(', ')}, about 2 minutes: each
                       sink against the database's own bulk loader (psql \\copy, LOAD DATA
                       LOCAL INFILE, clickhouse-client) writing the same rows);
                       api (the query API, cached vs cache off, over 1M stored events, 100k
                       with --quick) about 1.5 minutes, 40-90 s of it filling the store
  --reference-only     measure nginx / the raw copy only (no Beacon)
  --record / --no-record   append to docs/performance.md (default: on, off with --quick)
  --strict             exit 1 when a figure misses its target
  --keep-tmp           keep the temp dir (configs, logs) for inspection
  --cores N            pin the bench, Beacon, nginx, wrk and the clients to the first N CPUs
                       (taskset), to show scaling from one machine (databases and brokers
                       running as services are not pinned)`;

export function parseOptions(argv: string[]): BenchOptions {
  const o: BenchOptions = {
    durationSec: 10,
    warmupSec: 2,
    connections: 64,
    threads: 1,
    dispatchEvents: 500_000,
    batchSize: 20,
    only: [...SCENARIOS],
    quick: false,
    record: true,
    strict: false,
    referenceOnly: false,
    keepTmp: false,
  };
  let record: boolean | undefined;
  const explicit = new Set<string>();
  const args = [...argv];
  const value = (flag: string, inline: string | undefined): string => {
    const v = inline ?? args.shift();
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value\n${USAGE}`);
    return v;
  };
  const posInt = (flag: string, v: string, min = 1): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: expected an integer ≥ ${min}, got "${v}"`);
    return n;
  };
  while (args.length) {
    const a = args.shift()!;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    explicit.add(flag);
    switch (flag) {
      case '--quick':
        o.quick = true;
        break;
      case '--duration':
        o.durationSec = posInt(flag, value(flag, inline));
        break;
      case '--warmup':
        o.warmupSec = posInt(flag, value(flag, inline), 0);
        break;
      case '--connections':
        o.connections = posInt(flag, value(flag, inline));
        break;
      case '--threads':
        o.threads = posInt(flag, value(flag, inline));
        break;
      case '--events':
        o.dispatchEvents = posInt(flag, value(flag, inline));
        break;
      case '--batch-size':
        o.batchSize = posInt(flag, value(flag, inline));
        break;
      case '--only': {
        const names = value(flag, inline)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        for (const n of names)
          if (!(SCENARIOS as readonly string[]).includes(n))
            throw new Error(`--only: unknown scenario "${n}" (known: ${SCENARIOS.join(', ')})`);
        o.only = names as Scenario[];
        break;
      }
      case '--reference-only':
        o.referenceOnly = true;
        break;
      case '--record':
        record = true;
        break;
      case '--no-record':
        record = false;
        break;
      case '--strict':
        o.strict = true;
        break;
      case '--keep-tmp':
        o.keepTmp = true;
        break;
      case '--cores':
        o.cores = posInt(flag, value(flag, inline));
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option "${a}"\n${USAGE}`);
    }
  }
  if (o.quick) {
    if (!explicit.has('--duration')) o.durationSec = 3;
    if (!explicit.has('--warmup')) o.warmupSec = 1;
    if (!explicit.has('--events')) o.dispatchEvents = 100_000;
  }
  o.record = record ?? !o.quick;
  return o;
}
