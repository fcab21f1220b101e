import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { startHttpReceiver, type HttpReceiver } from '../support/httpReceiver.js';
import { startLoad, type LoadResult, type RunningLoad } from '../support/loadClient.js';
import { startNatsCluster, type NatsCluster } from '../support/natsCluster.js';
import { LONG, alive, sleep, withOutput } from './helpers.js';

/**
 * Scaled Beacon on a 3-node JetStream cluster (real nats-server processes on loopback, stream
 * replicas 3): two `--role collector` and two `--role dispatcher` processes, one http sink.
 * Under a paced load on both collectors, each round kills -9 one collector, one dispatcher and
 * the NATS node that leads the stream. Then every event a collector answered 2xx for must reach
 * the sink (by id); duplicates (the at-least-once price of the kills) are counted and reported.
 *
 * Quick mode (npm test): one round of 14 s of load. Long mode (BEACON_RELIABILITY=long):
 * four rounds of 20 s; between rounds what was killed is started again, and the next round kills
 * the other collector and dispatcher and whichever node leads the stream then.
 */
const ROUNDS = LONG ? 4 : 1;
const ROUND_MS = LONG ? 20_000 : 14_000;
/** When, into a round, the collector, the dispatcher and the NATS node are killed: the rest of the round shows writes resuming after the election. */
const KILL_AT_MS = [1500, 2500, 3500] as const;
/** Per collector; both together about 2 × this. */
const EVENTS_PER_SECOND = 400;
/** Redelivery after a dispatcher dies waits this long (log.ackWait). */
const ACK_WAIT = '3s';

const run = randomBytes(4).toString('hex');
const stream = `beacon-cluster-${run}`;
const SINK = 'hook';

describe(
  'JetStream cluster: kill -9 a collector, a dispatcher and a NATS node under load',
  { timeout: (LONG ? 900 : 180) * 1000 },
  () => {
    let cluster: NatsCluster;
    let receiver: HttpReceiver;
    let collectors: BeaconProcess[] = [];
    let dispatchers: BeaconProcess[] = [];

    before(async () => {
      cluster = await startNatsCluster({ size: 3, name: `beacon-${run}` });
      receiver = await startHttpReceiver();
      const config = {
        log: {
          type: 'jetstream',
          servers: cluster.urls,
          stream,
          subject: `beacon-cluster.${run}`,
          replicas: 3,
          maxBytes: '64MiB',
          ackWait: ACK_WAIT,
          publishTimeout: '2s',
          appendTimeout: '15s',
        },
        store: { type: 'none' },
        dispatch: { maxFailoverDuration: '2s', initialBackoff: '50ms' },
        sinks: [{ name: SINK, type: 'http', url: receiver.url, batch: { maxEvents: 200, maxWaitMs: 20 } }],
      };
      // The first one creates the stream (and the sink's consumer); the other three then start together.
      collectors = [await startBeacon(config, { args: ['--role', 'collector'] })];
      const rest = await Promise.all([
        startBeacon(config, { args: ['--role', 'collector'] }),
        startBeacon(config, { args: ['--role', 'dispatcher'] }),
        startBeacon(config, { args: ['--role', 'dispatcher'] }),
      ]);
      collectors.push(rest[0]);
      dispatchers = [rest[1], rest[2]];
    });

    after(async () => {
      await Promise.all([...collectors, ...dispatchers].map((b) => b.kill9().catch(() => undefined)));
      await Promise.all([...collectors, ...dispatchers].map((b) => b.cleanup()));
      await receiver?.stop();
      await cluster?.stop();
    });

    it('delivers every acknowledged event at least once, and counts the duplicates', async () => {
      const acked = new Set<string>();
      const totals = { sent: 0, requests: 0, failed: 0, status503: 0, ackedAfterNodeKill: 0 };
      const killed: string[] = [];
      const writeGaps: number[] = [];
      const started = Date.now();

      for (let round = 0; round < ROUNDS; round++) {
        const loads: RunningLoad[] = collectors.map((c, i) =>
          startLoad({
            url: c.url,
            connections: 4,
            batchSize: 20,
            maxEvents: 1_000_000,
            maxDurationMs: ROUND_MS,
            eventsPerSecond: EVENTS_PER_SECOND,
            idPrefix: `r${round}c${i}`,
            // Longer than log.appendTimeout: an append waits out a leader election rather than fail.
            requestTimeoutMs: 20_000,
            errorPauseMs: 100,
          }),
        );
        const victim = round % 2;
        const roundStart = Date.now();
        const until = (ms: number) => sleep(Math.max(0, roundStart + ms - Date.now()));
        await until(KILL_AT_MS[0]);
        await collectors[victim]!.kill9();
        killed.push(`collector${victim}`);
        await until(KILL_AT_MS[1]);
        await dispatchers[victim]!.kill9();
        killed.push(`dispatcher${victim}`);
        await until(KILL_AT_MS[2]);
        const leader = await cluster.streamLeader(stream);
        const ackedBeforeNodeKill = loads.reduce((n, l) => n + l.acked.size, 0);
        await cluster.kill9(leader);
        killed.push(`nats-${cluster.nodes[leader]!.name}(stream leader)`);
        // The longest stretch after the kill in which no request got its 2xx: the new stream leader's election, and reconnects.
        const stall = longestStall(loads);
        const results: LoadResult[] = await Promise.all(loads.map((l) => l.done));
        writeGaps.push(await stall);
        totals.ackedAfterNodeKill += results.reduce((n, r) => n + r.acked.length, 0) - ackedBeforeNodeKill;
        for (const r of results) {
          for (const id of r.acked) acked.add(id);
          totals.sent += r.sent;
          totals.requests += r.requests;
          totals.failed += r.statuses.error ?? 0;
          totals.status503 += r.statuses['503'] ?? 0;
        }
        if (round + 1 < ROUNDS) {
          // Bring back what this round killed, so the next round kills the other ones.
          await cluster.restart(leader);
          await Promise.all([collectors[victim]!.restart(), dispatchers[victim]!.restart()]);
        }
      }
      const loadEnded = Date.now();

      const survivor = dispatchers.find(alive)!;
      assert.ok(acked.size > 0, withOutput(survivor, 'the load got no event acknowledged at all'));
      // More than the requests that were in flight at the kill (4 connections × 20 events): new ones were taken after the election.
      assert.ok(
        totals.ackedAfterNodeKill > 100 * ROUNDS,
        withOutput(
          survivor,
          `only ${totals.ackedAfterNodeKill} events were acknowledged after the NATS node was killed: the cluster should keep taking writes with 2 of 3 nodes`,
        ),
      );

      // Every acknowledged event reaches the sink, then nothing is left in flight.
      const deadline = Date.now() + 90_000;
      const received = receiver.ids();
      let missing = [...acked].filter((id) => !received.has(id));
      while (missing.length > 0 && Date.now() < deadline) {
        await sleep(250);
        const got = receiver.ids();
        missing = missing.filter((id) => !got.has(id));
      }
      const drainedMs = Date.now() - loadEnded;
      await waitQuiet(cluster, stream, SINK, 30_000);

      const seen = new Map<string, number>();
      for (const e of receiver.events) seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
      let duplicates = 0;
      for (const n of seen.values()) duplicates += n - 1;
      const unackedDelivered = [...seen.keys()].filter((id) => !acked.has(id)).length;
      console.log(
        `jetstream cluster kill (rounds=${ROUNDS}, ${Math.round((loadEnded - started) / 1000)} s of load): killed=${killed.join(',')} ` +
          `sent=${totals.sent} acked=${acked.size} acked-after-node-kill=${totals.ackedAfterNodeKill} delivered-lines=${receiver.events.length} distinct=${seen.size} ` +
          `duplicates=${duplicates} rate=${((duplicates / Math.max(1, seen.size)) * 100).toFixed(3)}% unacked-but-delivered=${unackedDelivered} ` +
          `failed-requests=${totals.failed} 503s=${totals.status503} of ${totals.requests} requests; longest stretch without a 2xx after each node kill ${writeGaps.join(',')} ms; all delivered ${drainedMs} ms after the load ended`,
      );
      assert.deepEqual(
        missing.slice(0, 20),
        [],
        withOutput(survivor, `${missing.length} of ${acked.size} acknowledged events never reached the sink`),
      );
    });
  },
);

/** Samples the loads' acknowledged count every 50 ms until they end; resolves with the longest time it did not grow. */
async function longestStall(loads: RunningLoad[]): Promise<number> {
  let ended = false;
  void Promise.all(loads.map((l) => l.done)).then(() => (ended = true));
  const count = () => loads.reduce((n, l) => n + l.acked.size, 0);
  let last = count();
  let since = Date.now();
  let longest = 0;
  while (!ended) {
    await sleep(50);
    const now = count();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
    longest = Math.max(longest, Date.now() - since);
  }
  return longest;
}

/** Waits until the sink's consumer has nothing pending or unacked, so the duplicate count is final. */
async function waitQuiet(cluster: NatsCluster, stream: string, consumer: string, timeoutMs: number): Promise<void> {
  const nc = await connect({ servers: cluster.nodes.filter((n) => n.alive).map((n) => n.url), timeout: 5000 });
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await jsm.consumers.info(stream, consumer).catch(() => undefined);
      if (info && info.num_pending === 0 && info.num_ack_pending === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `consumer ${consumer} still has ${info?.num_pending} pending and ${info?.num_ack_pending} unacked events after ${timeoutMs} ms`,
        );
      await sleep(250);
    }
  } finally {
    await nc.close();
  }
}
