import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { createEnrichChain } from '../../../src/enrich/chain.js';
import type { TrackedEvent } from '../../../src/event/trackedEvent.js';
import { silentLogger } from '../../../src/ops/logger.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { processStrictCheck } from '../../../src/schemas/processSchemas.js';
import { SchemaSet } from '../../../src/schemas/schemaSet.js';
import { createHttpServer, type BeaconHttpServer } from '../../../src/sources/http/index.js';
import { enrichConfig, httpEvent } from '../enrich/fixtures.js';
import { createRecordingEmit, type RecordingEmit } from '../../support/recordingEmit.js';
import { metricValue, send } from '../http/harness.js';

/** `signup` needs an email and a plan of free or pro; other types have no schema. */
function schemaDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-intake-schemas-'));
  writeFileSync(
    join(dir, 'signup.json'),
    JSON.stringify({
      type: 'object',
      required: ['email', 'plan'],
      properties: { email: { type: 'string' }, plan: { enum: ['free', 'pro'] } },
    }),
  );
  return dir;
}

describe('strict schemas at the HTTP collector', () => {
  let http: BeaconHttpServer;
  let port: number;
  let recorder: RecordingEmit;
  let metrics: Metrics;

  before(async () => {
    const config = configSchema.parse({ schemas: { dir: schemaDir(), mode: 'strict' } });
    recorder = createRecordingEmit();
    metrics = createMetrics();
    http = createHttpServer({
      config: config.server,
      emit: recorder.emit,
      metrics,
      logger: silentLogger,
      schemaCheck: processStrictCheck(config, metrics),
    });
    port = (await http.listen(0, '127.0.0.1')).port;
  });
  after(() => http.drain(1000));

  test('answers a pixel whose props fail the schema with 400, the code and the reasons', async () => {
    const res = await send(port, { path: '/t/signup?email=ann@example.com&plan=gold' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json(), {
      code: 'BEACON_E_SCHEMA_INVALID',
      message: 'event type "signup" does not match its schema: props.plan must be one of "free", "pro"',
    });
    assert.equal(recorder.calls.length, 0, 'nothing reached the log');
  });

  test('answers POST /t/<type> the same way, and takes a valid one', async () => {
    const bad = await send(port, {
      method: 'POST',
      path: '/t/signup',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ plan: 'pro' }),
    });
    assert.equal(bad.status, 400);
    assert.match((bad.json() as { message: string }).message, /props is missing the required property "email"/);
    const good = await send(port, {
      method: 'POST',
      path: '/t/signup',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'a@example.com', plan: 'pro' }),
    });
    assert.equal(good.status, 204);
    assert.deepEqual(
      recorder.durable.map((e) => e.props),
      [{ email: 'a@example.com', plan: 'pro' }],
    );
  });

  test('lists invalid batch elements in rejected with the code and keeps the valid ones', async () => {
    const before = recorder.durable.length;
    const res = await send(port, {
      method: 'POST',
      path: '/batch',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([
        { type: 'signup', props: { email: 'b@example.com', plan: 'free' } },
        { type: 'signup', props: { email: 'c@example.com' } },
        { type: 'click', props: { any: 'thing' } },
      ]),
    });
    assert.equal(res.status, 200);
    const body = res.json() as { accepted: number; rejected: { index: number; code: string; message: string }[] };
    assert.equal(body.accepted, 2);
    assert.deepEqual(
      body.rejected.map((r) => [r.index, r.code]),
      [[1, 'BEACON_E_SCHEMA_INVALID']],
    );
    assert.match(body.rejected[0]!.message, /required property "plan"/);
    assert.deepEqual(
      recorder.durable.slice(before).map((e) => e.type),
      ['signup', 'click'],
    );
  });

  test('counts refusals per type and first reason, and in the intake ledger', async () => {
    assert.equal(
      await metricValue(metrics.schemaInvalid, { type: 'signup', reason: '/plan:enum', action: 'rejected' }),
      1,
    );
    assert.equal(
      await metricValue(metrics.schemaInvalid, { type: 'signup', reason: '/email:required', action: 'rejected' }),
      1,
    );
    assert.equal(
      await metricValue(metrics.schemaInvalid, { type: 'signup', reason: '/plan:required', action: 'rejected' }),
      1,
    );
    assert.equal(await metricValue(metrics.eventsRejected, { source: 'http', code: 'BEACON_E_SCHEMA_INVALID' }), 3);
  });
});

describe('the bad stream (schemas.mode: bad) in the enrichment chain', () => {
  const schemas = () =>
    SchemaSet.load(
      configSchema.parse({
        schemas: { dir: schemaDir() },
        sinks: [{ name: 'bad-rows', type: 'stdout', badStream: 'only' }],
      }).schemas,
    );
  const event = (type: string, props: Record<string, unknown>): TrackedEvent => ({
    ...httpEvent(),
    type,
    props,
    meta: { source: 'http' },
  });

  test('flags an invalid event with meta.invalid and its reasons, keeps it, and counts it', async () => {
    const metrics = createMetrics();
    const chain = createEnrichChain(enrichConfig(), { schemas: schemas(), metrics });
    assert.equal(chain.steps[0]!.name, 'schema', 'the schema check runs first, on the props as the client sent them');
    const invalid = event('signup', { email: 'x@example.com', plan: 'gold' });
    const valid = event('signup', { email: 'x@example.com', plan: 'pro' });
    const unchecked = event('click', {});
    assert.deepEqual(chain.run([invalid, valid, unchecked]), [invalid, valid, unchecked], 'nothing is dropped');
    assert.deepEqual(invalid.meta.invalid, { schema: 'signup', reasons: ['props.plan must be one of "free", "pro"'] });
    assert.equal(valid.meta.invalid, undefined);
    assert.equal(unchecked.meta.invalid, undefined);
    assert.equal(
      await metricValue(metrics.schemaInvalid, { type: 'signup', reason: '/plan:enum', action: 'flagged' }),
      1,
    );
  });

  test('does not check again an event a strict intake already passed', async () => {
    const config = configSchema.parse({ schemas: { dir: schemaDir(), mode: 'strict' } });
    const metrics = createMetrics();
    const strict = processStrictCheck(config, metrics)!;
    const passed = event('signup', { email: 'x@example.com', plan: 'pro' });
    assert.equal(strict(passed), undefined);
    // The chain would flag it if it looked (props changed after the check), so it must not look.
    passed.props.plan = 'gold';
    createEnrichChain(enrichConfig(), { schemas: SchemaSet.load(config.schemas), metrics }).run([passed]);
    assert.equal(passed.meta.invalid, undefined);
  });

  test('without schemas the chain has no schema step', () => {
    assert.equal(
      createEnrichChain(enrichConfig()).steps.some((s) => s.name === 'schema'),
      false,
    );
  });
});
