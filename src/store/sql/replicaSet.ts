import type { Logger } from 'pino';
import { BeaconError } from '../../errors/beaconError.js';
import { ReadTimeoutError } from './readTimeout.js';
import type { StoreMetrics } from './storeMetrics.js';
import { STORE_EVENTS } from '../internalEvents.js';

/**
 * One writer and any number of read replicas, read from as one.
 *
 * Promises:
 * - A read goes to the healthy replicas in turn (round-robin), and to the writer only when no
 *   replica is healthy or every healthy one failed it: replicas take the read load, the
 *   writer stays free for the sink.
 * - A read that fails because the server cannot answer (refused, connection lost, login
 *   refused: the caller's `isUnavailable` says which) takes that replica out and is tried again
 *   on the next replica, then the writer, inside the same call: one replica going away costs
 *   the caller latency, never an error.
 * - A read that ran out of time (`store.queryTimeout`: the server cancelled the statement, or
 *   our own timer gave up, `ReadTimeoutError`; the caller's `isTimeout` says which) is a failure
 *   of that query, not of the server: it is answered BEACON_E_STORE_TIMEOUT (504) at once,
 *   tried nowhere else and takes nothing out. Every copy would be as slow, and failing over
 *   would let one slow query empty the rotation and land on the writer.
 * - Any other failure (a missing table, a permission) is the caller's to report: it is thrown
 *   as it came, without trying elsewhere, since every copy would answer the same.
 * - A replica that is out is probed (`ping`) after `backoffMs`, then at doubling intervals up
 *   to `maxBackoffMs`; the first probe that succeeds puts it back in the rotation. Probes run
 *   on a timer, so no read waits on a server that is known to be down.
 * - Only when the writer fails too does the read fail, with BEACON_E_STORE_UNAVAILABLE naming
 *   every server tried and why.
 */
export interface ReadTarget {
  readonly role: 'writer' | 'replica';
  /** `host:port/database`, no credentials: names the server in logs, metrics and errors. */
  readonly label: string;
  /** A cheap query that succeeds only when the server can answer reads. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ReplicaSetOptions {
  /** Names the store in messages, e.g. `postgres`. */
  kind: string;
  backoffMs: number;
  maxBackoffMs: number;
  /** True when the error means this server cannot answer now, so the read should go elsewhere. */
  isUnavailable(err: unknown): boolean;
  /** True when the server gave up on the statement for time (a `ReadTimeoutError` always counts). */
  isTimeout?(err: unknown): boolean;
  metrics: StoreMetrics;
  logger: Logger;
}

export interface TargetHealth {
  role: 'writer' | 'replica';
  target: string;
  /** Whether the target takes reads; the writer always does (it is the last resort). */
  up: boolean;
  /** Why it went out, while it is out. */
  lastError?: string;
  /** When it went out (epoch ms), while it is out. */
  downSince?: number;
}

interface ReplicaState<T> {
  target: T;
  up: boolean;
  backoffMs: number;
  timer: NodeJS.Timeout | undefined;
  lastError: string | undefined;
  downSince: number | undefined;
}

export class ReplicaSet<T extends ReadTarget> {
  private readonly replicas: ReplicaState<T>[];
  private turn = 0;
  private closed = false;

  constructor(
    private readonly writer: T,
    replicas: readonly T[],
    private readonly options: ReplicaSetOptions,
  ) {
    this.replicas = replicas.map((target) => ({
      target,
      up: true,
      backoffMs: options.backoffMs,
      timer: undefined,
      lastError: undefined,
      downSince: undefined,
    }));
    for (const r of this.replicas) options.metrics.replicaUp.set({ target: r.target.label }, 1);
  }

  /** Runs `query` on a healthy replica, failing over as promised above. */
  async read<R>(query: (target: T) => Promise<R>): Promise<R> {
    const failures: string[] = [];
    for (const replica of this.rotation()) {
      try {
        return await this.attempt(replica.target, query);
      } catch (err) {
        if (this.timedOut(err)) throw this.timeoutError(replica.target, err);
        if (!this.options.isUnavailable(err)) throw err;
        failures.push(`replica ${replica.target.label}: ${message(err)}`);
        this.takeOut(replica, err);
      }
    }
    try {
      return await this.attempt(this.writer, query);
    } catch (err) {
      if (this.timedOut(err)) throw this.timeoutError(this.writer, err);
      if (!this.options.isUnavailable(err)) throw err;
      failures.push(`writer ${this.writer.label}: ${message(err)}`);
      throw new BeaconError(
        'BEACON_E_STORE_UNAVAILABLE',
        `the ${this.options.kind} store could not answer (${failures.join('; ')}): check that the database is up and reachable from this host; queries answer 503 until it is`,
        { tried: failures.length },
        { cause: err },
      );
    }
  }

  health(): TargetHealth[] {
    return [
      { role: 'writer', target: this.writer.label, up: true },
      ...this.replicas.map((r) => ({
        role: 'replica' as const,
        target: r.target.label,
        up: r.up,
        ...(r.up ? {} : { lastError: r.lastError, downSince: r.downSince }),
      })),
    ];
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.replicas) clearTimeout(r.timer);
    await Promise.all([this.writer, ...this.replicas.map((r) => r.target)].map((t) => t.close().catch(() => {})));
  }

  private timedOut(err: unknown): boolean {
    return err instanceof ReadTimeoutError || this.options.isTimeout?.(err) === true;
  }

  private timeoutError(target: T, err: unknown): BeaconError {
    return new BeaconError(
      'BEACON_E_STORE_TIMEOUT',
      `the ${this.options.kind} store's ${target.role} ${target.label} did not finish the query in time (${message(err)}): narrow the query (a shorter from/to range, a type, fewer where conditions) or raise store.queryTimeout`,
      { target: target.label },
      { cause: err },
    );
  }

  /** The healthy replicas, starting one further on each call. */
  private rotation(): ReplicaState<T>[] {
    const up = this.replicas.filter((r) => r.up);
    if (up.length === 0) return [];
    const start = this.turn++ % up.length;
    return [...up.slice(start), ...up.slice(0, start)];
  }

  private async attempt<R>(target: T, query: (target: T) => Promise<R>): Promise<R> {
    const begun = performance.now();
    try {
      const result = await query(target);
      this.options.metrics.queries.inc({ role: target.role, target: target.label, outcome: 'ok' });
      this.options.metrics.querySeconds.observe({ role: target.role }, (performance.now() - begun) / 1000);
      return result;
    } catch (err) {
      this.options.metrics.queries.inc({ role: target.role, target: target.label, outcome: 'failed' });
      throw err;
    }
  }

  private takeOut(replica: ReplicaState<T>, err: unknown): void {
    if (!replica.up || this.closed) return;
    replica.up = false;
    replica.lastError = message(err);
    replica.downSince = Date.now();
    replica.backoffMs = this.options.backoffMs;
    STORE_EVENTS.storeReplicaDown.emit(
      this.options,
      { replica: replica.target.label, err: replica.lastError, probeInMs: replica.backoffMs },
      this.options.kind,
    );
    this.scheduleProbe(replica);
  }

  private scheduleProbe(replica: ReplicaState<T>): void {
    if (this.closed) return;
    replica.timer = setTimeout(() => void this.probe(replica), replica.backoffMs);
    replica.timer.unref();
  }

  private async probe(replica: ReplicaState<T>): Promise<void> {
    try {
      await replica.target.ping();
    } catch (err) {
      replica.lastError = message(err);
      replica.backoffMs = Math.min(replica.backoffMs * 2, this.options.maxBackoffMs);
      this.scheduleProbe(replica);
      return;
    }
    if (this.closed) return;
    replica.up = true;
    replica.lastError = undefined;
    replica.downSince = undefined;
    replica.backoffMs = this.options.backoffMs;
    STORE_EVENTS.storeReplicaUp.emit(this.options, { replica: replica.target.label }, this.options.kind);
  }
}

/** The replica fields of the replicated stores' config (postgres, mysql). */
export interface ReplicatedStoreFields {
  replicas: readonly string[];
  replicaBackoff: number;
  replicaBackoffMax: number;
}

/** How a replicated store reaches its servers: `S` names a server, `T` reads from one. */
export interface ReplicaServers<S, T extends ReadTarget> {
  /** The sink's server: the writer. */
  writer: S;
  /** A `store.replicas` URL, with what it leaves out taken from the writer. */
  replica(url: string, writer: S): S;
  target(server: S, role: 'writer' | 'replica'): T;
}

/**
 * The ReplicaSet of a replicated store: the sink's server as the writer, each of
 * `store.replicas` as a replica, backing off as `store.replicaBackoff`/`replicaBackoffMax` say.
 */
export function replicaSetFor<S, T extends ReadTarget>(
  store: ReplicatedStoreFields,
  servers: ReplicaServers<S, T>,
  options: Omit<ReplicaSetOptions, 'backoffMs' | 'maxBackoffMs'>,
): ReplicaSet<T> {
  const writer = servers.target(servers.writer, 'writer');
  const replicas = store.replicas.map((url) => servers.target(servers.replica(url, servers.writer), 'replica'));
  return new ReplicaSet(writer, replicas, {
    ...options,
    backoffMs: store.replicaBackoff,
    maxBackoffMs: store.replicaBackoffMax,
  });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
