/**
 * `--cores N`: pins the bench and everything it starts afterwards (Beacon, nginx, wrk, the
 * database clients, the Kafka mock) to the first N CPUs with `taskset`, so one machine can
 * show how a figure scales with cores. Children inherit the affinity of the process that
 * spawns them; `-a` moves every thread this process already has (libuv's pool, V8's helpers).
 * Services that run outside the bench (PostgreSQL, MariaDB, RabbitMQ, NATS) are not pinned:
 * the notes of each run say so.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** The CPU list pinned to, e.g. `0-1`; throws when taskset is missing or N exceeds the cores. */
export function pinToCores(cores: number): string {
  const available = availableParallelism();
  if (cores > available) throw new Error(`--cores ${cores}: this machine has ${available} cores`);
  const list = cores === 1 ? '0' : `0-${cores - 1}`;
  const r = spawnSync('taskset', ['-a', '-p', '-c', list, String(process.pid)], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `--cores ${cores}: taskset failed (${r.error?.message ?? r.stderr.trim()}); install util-linux's taskset or leave --cores out`,
    );
  }
  return list;
}
