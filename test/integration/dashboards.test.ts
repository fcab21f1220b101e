import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import { startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { startHttpReceiver, type HttpReceiver } from '../support/httpReceiver.js';
import { missingMetric, parseExposition, parsePromql, type Exposition } from '../support/promql.js';
import { mustRun, runCommand } from '../support/runCommand.js';
import { waitUntil } from '../support/waitFor.js';

/**
 * The Grafana dashboard and the Prometheus alert rules query only what Beacon exports: a real
 * Beacon (an archive file sink, and a webhook sink whose receiver refuses "poison" events, so
 * dead letters and errors exist) takes good, invalid and poison events, then every metric name
 * in every dashboard query, variable and rule expression must have series on its /metrics.
 * Expressions are parsed with Prometheus' own PromQL grammar, so a syntax error fails too.
 * The rules also pass `promtool check rules` and their unit tests (Debian's prometheus package).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'beacon-dashboard.json');
const RULES = join(ROOT, 'deploy', 'prometheus', 'beacon-alerts.yaml');
const RULE_TESTS = join(ROOT, 'deploy', 'prometheus', 'beacon-alerts.test.yaml');
/** Series Prometheus makes itself for every scrape target, not exported by Beacon. */
const PROMETHEUS_SERIES = new Set(['up']);

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string; refId: string }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; definition?: string }[] };
}
interface RuleFile {
  groups: {
    name: string;
    rules: {
      alert: string;
      expr: string;
      for?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }[];
  }[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const rules = parseYaml(readFileSync(RULES, 'utf8')) as RuleFile;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Every expression to check, named by where it is. */
function expressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of panels)
    for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
  for (const v of dashboard.templating.list) {
    // label_values(metric, label) is Grafana's, not PromQL: its first argument is the selector.
    const selector = /^label_values\(([^,]+),/.exec(v.definition ?? '')?.[1];
    if (selector) out.push({ where: `variable $${v.name}`, expr: selector });
  }
  for (const g of rules.groups) for (const r of g.rules) out.push({ where: `alert ${r.alert}`, expr: r.expr });
  return out;
}

/** What is wrong with the expressions against this exposition, one line per problem. */
function problems(list: { where: string; expr: string }[], exposition: Exposition): string[] {
  const out: string[] = [];
  for (const { where, expr } of list) {
    const parsed = parsePromql(expr);
    if (parsed.errors.length > 0) out.push(`${where}: PromQL syntax error at ${parsed.errors[0]} in ${expr}`);
    if (parsed.metrics.length === 0) out.push(`${where}: selects no metric: ${expr}`);
    for (const name of parsed.metrics) {
      if (PROMETHEUS_SERIES.has(name)) continue;
      const missing = missingMetric(name, exposition);
      if (missing) out.push(`${where}: ${missing}`);
    }
  }
  return out;
}

describe(
  'Grafana dashboard and Prometheus alert rules (deploy/grafana, deploy/prometheus)',
  { timeout: 120_000 },
  () => {
    let beacon: BeaconProcess | undefined;
    let receiver: HttpReceiver | undefined;
    let exposition: Exposition;

    before(async () => {
      receiver = await startHttpReceiver();
      receiver.rejectWhen((e) => e.props?.poison === true);
      beacon = await startBeacon({
        dispatch: { maxFailoverDuration: '1s', initialBackoff: '50ms' },
        sinks: [
          { name: 'archive', type: 'file', path: 'out/events.ndjson', codec: 'json' },
          { name: 'hook', type: 'http', url: receiver.url, batch: { maxEvents: 10, maxWaitMs: 20 } },
        ],
      });
      const batch = [
        { type: 'pageview', props: { path: '/' } },
        { type: 'click', props: { button: 'buy' } },
        { type: 'bad type!' },
        { type: 'order', props: { poison: true } },
      ];
      const res = await fetch(`${beacon.url}/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(batch),
      });
      assert.equal(res.status, 200);
      await fetch(`${beacon.url}/t/pageview?path=/pricing`);
      let text = '';
      await waitUntil(
        'delivered and dead-lettered series on /metrics',
        async () => {
          text = await (await fetch(`${beacon!.url}/metrics`)).text();
          return (
            /^beacon_sink_dead_lettered_total\{[^}]*sink="hook"/m.test(text) &&
            /^beacon_sink_delivered_total\{sink="hook"\} [1-9]/m.test(text)
          );
        },
        30_000,
        200,
      );
      exposition = parseExposition(text);
    });

    after(async () => {
      await beacon?.stop();
      await beacon?.cleanup();
      await receiver?.stop();
    });

    it('queries only metrics that /metrics exports, in expressions that parse as PromQL', () => {
      const list = expressions();
      assert.ok(list.length >= 25, `${list.length} expressions checked`);
      assert.deepEqual(problems(list, exposition), []);
    });

    it('would report an unknown metric, a histogram series of a counter, and a syntax error (the check can fail)', () => {
      const found = problems(
        [
          { where: 'a', expr: 'rate(beacon_events_recieved_total[5m])' },
          { where: 'b', expr: 'histogram_quantile(0.5, rate(beacon_sink_delivered_total_bucket[5m]))' },
          { where: 'c', expr: 'sum(rate(beacon_events_received_total[5m]' },
        ],
        exposition,
      );
      assert.equal(found.length, 3, found.join('\n'));
      assert.match(found[0]!, /beacon_events_recieved_total is not exported/);
      assert.match(found[1]!, /beacon_sink_delivered_total is a counter, which has no _bucket series/);
      assert.match(found[2]!, /syntax error/);
    });

    it('covers what the deployment needs: ingest, rejects, per-sink delivery, lag, dead letters, 503s, ack latency', () => {
      const all = expressions()
        .map((e) => e.expr)
        .join('\n');
      for (const metric of [
        'beacon_events_received_total',
        'beacon_events_rejected_total',
        'beacon_sink_delivered_total',
        'beacon_sink_lag_events',
        'beacon_sink_lag_seconds',
        'beacon_sink_dead_lettered_total',
        'beacon_log_full_total',
        'beacon_ingest_ack_seconds_bucket',
      ]) {
        assert.ok(
          panels.some((p) => p.targets?.some((t) => t.expr.includes(metric))),
          `a dashboard panel shows ${metric}`,
        );
      }
      assert.match(all, /histogram_quantile\(0\.5,[^\n]*beacon_ingest_ack_seconds_bucket/);
      assert.match(all, /histogram_quantile\(0\.99,[^\n]*beacon_ingest_ack_seconds_bucket/);
      const ids = panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
      for (const p of panels.filter((x) => x.type !== 'row'))
        assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has a query`);
      const alerts = rules.groups.flatMap((g) => g.rules);
      for (const r of alerts) {
        assert.ok(r.labels?.severity, `${r.alert} has a severity`);
        assert.ok(r.annotations?.summary && r.annotations.description, `${r.alert} says what happened and what to do`);
      }
      for (const topic of [
        'BeaconSinkFatal',
        'BeaconSinkBackingOff',
        'BeaconSinkLagGrowing',
        'BeaconDeadLetters',
        'BeaconLogNearlyFull',
        'BeaconRefusingWith503',
        'BeaconNoEvents',
      ]) {
        assert.ok(
          alerts.some((r) => r.alert === topic),
          `rule ${topic}`,
        );
      }
    });

    describe('with promtool (Debian package prometheus)', () => {
      let promtoolReady = false;
      before(async () => {
        const ensured = await runCommand('sh', ['scripts/ensure-debian-packages.sh', 'prometheus'], {
          cwd: ROOT,
          timeoutMs: 10 * 60_000,
        });
        promtoolReady = ensured.code === 0 && existsSync('/usr/bin/promtool');
      });

      it('accepts the rules file, annotation templates included', async (t) => {
        if (!promtoolReady) return t.skip('promtool could not be installed here');
        const res = await runCommand('promtool', ['check', 'rules', RULES]);
        assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
        assert.match(res.stdout, /SUCCESS: \d+ rules found/);
      });

      it('passes the alert unit tests: each alert fires on its condition and not short of it', async (t) => {
        if (!promtoolReady) return t.skip('promtool could not be installed here');
        // A copy without annotations: promtool compares annotations in full, and the tests are about when alerts fire.
        const dir = await mkdtemp(join(tmpdir(), 'beacon-rules-'));
        try {
          const bare = structuredClone(rules);
          for (const g of bare.groups) for (const r of g.rules) delete r.annotations;
          await writeFile(join(dir, 'beacon-alerts.yaml'), stringify(bare));
          await copyFile(RULE_TESTS, join(dir, 'beacon-alerts.test.yaml'));
          const res = await mustRun('promtool', ['test', 'rules', join(dir, 'beacon-alerts.test.yaml')]);
          assert.match(res.stdout, /SUCCESS/);
          const tested = new Set([...readFileSync(RULE_TESTS, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
          for (const r of rules.groups.flatMap((g) => g.rules))
            assert.ok(tested.has(r.alert), `${r.alert} has a unit test`);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });
  },
);
