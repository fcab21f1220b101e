import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Connection, type AsyncMessage, type Consumer, type Publisher } from 'rabbitmq-client';
import { canopsisToBeaconConfig, parseCanopsisTargets } from '../../src/config/import/canopsis.js';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { TcpProxy } from '../support/tcpProxy.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * The Canopsis dispatcher scenario, end to end against the machine's real RabbitMQ: events
 * published to an input queue are broadcast by Beacon to three targets, each a vhost of its
 * own (created with rabbitmqctl for this run, deleted after). The config is produced by the
 * importer from a targets.json, as a user would. One target sits behind a TcpProxy and is
 * made unreachable while events keep flowing: 60 s with BEACON_RELIABILITY=long, 15 s
 * otherwise. The shared server is never stopped.
 */

const LONG = process.env.BEACON_RELIABILITY === 'long';
const OUTAGE_MS = LONG ? 60_000 : 15_000;
const RATE_PER_SECOND = 200;
const RUN = randomUUID().slice(0, 8);
const VHOSTS = ['a', 'b', 'c'].map((s) => `beacon-test-${RUN}-${s}`);
const INPUT_EXCHANGE = `beacon-test-${RUN}-canopsis-in`;
const INPUT_QUEUE = `beacon-test-${RUN}-dispatcher`;

function rabbitmqctl(...args: string[]): void {
  execFileSync('rabbitmqctl', args, { stdio: 'pipe', timeout: 30_000 });
}

interface Received {
  seq: number;
  routingKey: string;
  body: Record<string, unknown>;
}

/** A consumer on a target vhost's queue bound to canopsis.events, recording what arrives. */
class Target {
  readonly received: Received[] = [];
  private connection: Connection | undefined;
  private consumer: Consumer | undefined;
  constructor(readonly vhost: string) {}

  async start(): Promise<void> {
    const connection = new Connection({
      hostname: '127.0.0.1',
      port: 5672,
      username: 'guest',
      password: 'guest',
      vhost: this.vhost,
      retryLow: 200,
      retryHigh: 1000,
    });
    await connection.onConnect(5000);
    await connection.exchangeDeclare({ exchange: 'canopsis.events', type: 'topic', durable: true });
    const queue = 'Engine_cleaner_events';
    await connection.queueDeclare({ queue, durable: true });
    await connection.queueBind({ queue, exchange: 'canopsis.events', routingKey: '#' });
    this.consumer = connection.createConsumer(
      { queue, noAck: true, queueOptions: { passive: true } },
      (msg: AsyncMessage) => {
        const body = (Buffer.isBuffer(msg.body) ? JSON.parse(msg.body.toString('utf8')) : msg.body) as Record<
          string,
          unknown
        >;
        this.received.push({ seq: body.seq as number, routingKey: msg.routingKey, body });
      },
    );
    this.connection = connection;
  }

  seqs(): Set<number> {
    return new Set(this.received.map((r) => r.seq));
  }

  async stop(): Promise<void> {
    await this.consumer?.close();
    await this.connection?.close();
  }
}

/** A Canopsis check event, as the dispatcher's input queue holds them (no Beacon `type`). */
function canopsisEvent(seq: number) {
  const component = `host-${seq % 7}`;
  return {
    body: {
      connector: 'nagios',
      connector_name: 'nagios1',
      event_type: 'check',
      source_type: 'resource',
      component,
      resource: 'cpu',
      state: seq % 4,
      output: `load ${seq}`,
      seq,
    },
    routingKey: `nagios.nagios1.check.resource.${component}.cpu`,
  };
}

const waitFor = (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) =>
  waitUntil(what, check, timeoutMs, 100);

describe(`the Canopsis dispatcher scenario (three vhosts, one unreachable for ${OUTAGE_MS / 1000} s)`, () => {
  const targets = VHOSTS.map((v) => new Target(v));
  const proxy = new TcpProxy(5672);
  let admin: Connection;
  let publisher: Publisher;
  let beacon: BeaconProcess;
  let sinkNames: string[];

  before(async () => {
    for (const vhost of VHOSTS) {
      rabbitmqctl('add_vhost', vhost);
      rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
    }
    for (const t of targets) await t.start();
    await proxy.start();
    admin = new Connection({ url: 'amqp://guest:guest@127.0.0.1:5672', retryLow: 200, retryHigh: 1000 });
    await admin.onConnect(5000);
    await admin.exchangeDeclare({ exchange: INPUT_EXCHANGE, type: 'topic', durable: false });
    await admin.queueDeclare({ queue: INPUT_QUEUE, durable: true });
    await admin.queueBind({ queue: INPUT_QUEUE, exchange: INPUT_EXCHANGE, routingKey: '#' });
    publisher = admin.createPublisher({ confirm: true });

    // The user's path: a targets.json (with the comments Canopsis allows) through the importer.
    const targetsJson = `{
      // two targets reached directly, one through a proxy the test can cut
      "targets": [
        { "host": "127.0.0.1", "vhost": "${VHOSTS[0]}" },
        { "host": "127.0.0.1", "port": 5672, "user": "guest", "vhost": "${VHOSTS[1]}" },
        { "host": "127.0.0.1", "port": "${proxy.port}", "vhost": "${VHOSTS[2]}" }
      ],
      "params": { "max_failover_duration": 5 }
    }`;
    const config = canopsisToBeaconConfig(parseCanopsisTargets(targetsJson), {
      inputQueue: INPUT_QUEUE,
      inputHost: '127.0.0.1',
      inputPort: 5672,
      inputVhost: '/',
      exchange: 'canopsis.events',
    });
    sinkNames = (config.sinks as { name: string }[]).map((s) => s.name);
    for (const sink of config.sinks as Record<string, unknown>[]) sink.connectTimeoutMs = 2000;
    beacon = await startBeacon({ ...config, logging: { level: 'info' } });
  });

  after(async () => {
    if (beacon) {
      await beacon.stop();
      await beacon.cleanup();
    }
    await publisher?.close();
    await admin?.queueDelete({ queue: INPUT_QUEUE }).catch(() => {});
    await admin?.exchangeDelete({ exchange: INPUT_EXCHANGE }).catch(() => {});
    await admin?.close();
    for (const t of targets) await t.stop().catch(() => {});
    await proxy.stop();
    for (const vhost of VHOSTS) {
      try {
        rabbitmqctl('delete_vhost', vhost);
      } catch {
        // already gone
      }
    }
  });

  it('keeps two targets at full rate while the third is down, then delivers everything to the third', async (t) => {
    const publishedAt: number[] = [];
    let seq = 0;
    let publishing = true;
    const pump = (async () => {
      const perTick = RATE_PER_SECOND / 10;
      while (publishing) {
        const started = Date.now();
        const sends: Promise<void>[] = [];
        for (let k = 0; k < perTick; k++) {
          const { body, routingKey } = canopsisEvent(seq);
          publishedAt[seq] = Date.now();
          seq++;
          sends.push(
            publisher.send(
              { exchange: INPUT_EXCHANGE, routingKey, contentType: 'application/json', durable: true },
              Buffer.from(JSON.stringify(body)),
            ),
          );
        }
        await Promise.all(sends);
        await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - started))));
      }
    })();
    const [a, b, c] = targets as [Target, Target, Target];
    const allUpTo = (target: Target, n: number) => {
      const got = target.seqs();
      for (let i = 0; i < n; i++) if (!got.has(i)) return false;
      return true;
    };

    try {
      await waitFor('every target to receive events', () => targets.every((x) => x.received.length > 50), 20_000);
      proxy.down();
      const downAt = Date.now();
      const cAtDown = c.received.length;
      // Sample the healthy targets through the outage: each must keep up with the publisher.
      let worstLagSeconds = 0;
      while (Date.now() - downAt < OUTAGE_MS) {
        await new Promise((r) => setTimeout(r, 1000));
        const cutoff = Date.now() - 2000;
        let sentBefore = 0;
        while (sentBefore < publishedAt.length && publishedAt[sentBefore]! < cutoff) sentBefore++;
        for (const target of [a, b])
          assert.ok(
            allUpTo(target, sentBefore),
            `${target.vhost} has every event published more than 2 s ago (${sentBefore}) during the outage`,
          );
        const newest = Math.min(...[a, b].map((x) => x.received.at(-1)?.seq ?? 0));
        worstLagSeconds = Math.max(worstLagSeconds, (Date.now() - (publishedAt[newest] ?? Date.now())) / 1000);
      }
      const sentDuringOutage = publishedAt.filter((at) => at >= downAt).length;
      assert.ok(
        c.received.length - cAtDown <= RATE_PER_SECOND,
        'the unreachable target received nothing once it was cut',
      );
      // The sink is 'delivering' for the moment of each reconnect attempt between its back-offs:
      // one sample can land on an attempt, so look for the back-off over a few samples.
      let third: { name: string; state: string; lagEvents: number } | undefined;
      await waitUntil(
        () => `the unreachable target's sink to back off (last seen ${JSON.stringify(third)})`,
        async () => {
          const status = (await (await fetch(`${beacon.url}/api/v1/status`)).json()) as {
            sinks: { name: string; state: string; lagEvents: number }[];
          };
          third = status.sinks.find((s) => s.name === sinkNames[2])!;
          return third.state === 'backing_off';
        },
        5_000,
        50,
      );
      assert.ok(third!.lagEvents > 0, 'its events wait in the log');

      proxy.restore();
      const upAt = Date.now();
      await new Promise((r) => setTimeout(r, 2000));
      publishing = false;
      await pump;
      const total = seq;
      await waitFor('every target to hold every event', () => targets.every((x) => allUpTo(x, total)), 5_000 + 30_000);
      const caughtUpSeconds = (Date.now() - upAt) / 1000;

      for (const target of targets) {
        const first = target.received.find((r) => r.seq === 3)!;
        const sent = canopsisEvent(3);
        assert.deepEqual(first.body, sent.body, 'the target gets the Canopsis event as it was published');
        assert.equal(first.routingKey, sent.routingKey, 'under its original routing key');
      }
      const out = beacon.output();
      for (const name of sinkNames) {
        assert.match(
          out,
          new RegExp(`"event":"sink_sent","sink":"${name.replace(/\./g, '\\.')}","sent":\\d+`),
          `a sent-count line for ${name}`,
        );
      }
      t.diagnostic(
        `published ${total} events at ${RATE_PER_SECOND}/s; ${sentDuringOutage} during the ${OUTAGE_MS / 1000} s outage; healthy targets' worst lag ${worstLagSeconds.toFixed(1)} s; the third caught up ${caughtUpSeconds.toFixed(1)} s after it came back; duplicates at the third: ${c.received.length - c.seqs().size}`,
      );
    } finally {
      publishing = false;
      await pump.catch(() => {});
    }
  });
});
