import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli, startBeacon, type BeaconProcess } from '../support/beaconProcess.js';
import { waitForValue } from '../support/waitFor.js';

/**
 * Per-type JSON Schemas as a user meets them: Beacon as a real process with a schema
 * directory, an invalid event going to the bad-stream sink and not to the normal one, strict
 * mode answering 400 with the reason, and `beacon validate` run as the real CLI.
 */

type Line = {
  id: string;
  type: string;
  props: Record<string, unknown>;
  meta: { invalid?: { schema: string; reasons: string[] } };
};

async function fileLines(path: string): Promise<Line[]> {
  try {
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
  } catch {
    return [];
  }
}

const SIGNUP_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  required: ['email', 'plan'],
  properties: { email: { type: 'string', format: 'email' }, plan: { enum: ['free', 'pro'] } },
};

/** A fresh directory holding `schemas/signup.json`, to be Beacon's data dir and working directory. */
async function dirWithSchemas(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'beacon-schemas-it-'));
  await mkdir(join(dir, 'schemas'));
  await writeFile(join(dir, 'schemas', 'signup.json'), JSON.stringify(SIGNUP_SCHEMA));
  return dir;
}

async function postBatch(
  url: string,
  events: unknown[],
): Promise<{
  status: number;
  body: { accepted: number; rejected: { index: number; code: string; message: string }[] };
}> {
  const res = await fetch(`${url}/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  return { status: res.status, body: (await res.json()) as never };
}

describe('schemas in bad mode, two collector processes', () => {
  let beacon: BeaconProcess;
  before(async () => {
    beacon = await startBeacon(
      {
        server: { workers: 2 },
        schemas: { dir: 'schemas' },
        sinks: [
          { name: 'warehouse', type: 'file', path: 'out/good.ndjson', batch: { maxEvents: 100, maxWaitMs: 20 } },
          {
            name: 'bad-rows',
            type: 'file',
            path: 'out/bad.ndjson',
            badStream: 'only',
            batch: { maxEvents: 100, maxWaitMs: 20 },
          },
        ],
      },
      { dataDir: await dirWithSchemas() },
    );
  });
  after(async () => {
    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    await beacon.cleanup();
  });

  it('accepts an invalid event into the bad stream: the bad-rows sink gets it with its reasons, the normal sink does not', async () => {
    const res = await postBatch(beacon.url, [
      { type: 'signup', id: 'good-1', props: { email: 'ann@example.com', plan: 'pro' } },
      { type: 'signup', id: 'bad-1', props: { email: 'not-an-email', plan: 'gold' } },
      { type: 'click', id: 'free-1', props: { any: 'shape' } },
    ]);
    assert.deepEqual([res.status, res.body.accepted, res.body.rejected], [200, 3, []]);
    const pixel = await fetch(`${beacon.url}/t/signup?email=bob@example.com`);
    assert.equal(pixel.status, 204, 'a pixel missing "plan" is accepted too, into the bad stream');

    const bad = await waitForValue('two events in the bad-rows sink', async () => {
      const lines = await fileLines(join(beacon.dataDir, 'out', 'bad.ndjson'));
      return lines.length >= 2 ? lines : undefined;
    });
    const good = await waitForValue('two events in the warehouse sink', async () => {
      const lines = await fileLines(join(beacon.dataDir, 'out', 'good.ndjson'));
      return lines.length >= 2 ? lines : undefined;
    });
    assert.deepEqual(good.map((e) => e.id).sort(), ['free-1', 'good-1']);
    const badOne = bad.find((e) => e.id === 'bad-1');
    assert.deepEqual(badOne?.meta.invalid, {
      schema: 'signup',
      reasons: ['props.email must match format "email"', 'props.plan must be one of "free", "pro"'],
    });
    assert.deepEqual(bad.find((e) => e.id !== 'bad-1')?.meta.invalid?.reasons, [
      'props is missing the required property "plan"',
    ]);
    assert.ok(good.every((e) => e.meta.invalid === undefined));

    const metrics = await waitForValue('both sinks caught up', async () => {
      const text = await (await fetch(`${beacon.url}/metrics`)).text();
      return /beacon_sink_skipped_total\{sink="bad-rows",filter="bad_stream"\} 2/.test(text) &&
        /beacon_sink_skipped_total\{sink="warehouse",filter="bad_stream"\} 2/.test(text)
        ? text
        : undefined;
    });
    assert.match(metrics, /beacon_schema_invalid_total\{type="signup",reason="\/email:format",action="flagged"\} 1/);
    assert.match(metrics, /beacon_schema_invalid_total\{type="signup",reason="\/plan:required",action="flagged"\} 1/);
  });
});

describe('schemas in strict mode', () => {
  let beacon: BeaconProcess;
  before(async () => {
    beacon = await startBeacon(
      {
        schemas: { dir: 'schemas', mode: 'strict' },
        sinks: [{ name: 'warehouse', type: 'file', path: 'out/good.ndjson', batch: { maxEvents: 100, maxWaitMs: 20 } }],
      },
      { dataDir: await dirWithSchemas() },
    );
  });
  after(async () => {
    assert.equal(await beacon.stop(), 0, `beacon did not exit 0:\n${beacon.output()}`);
    await beacon.cleanup();
  });

  it('answers 400 with the code and the reason, and stores nothing of the refused event', async () => {
    const res = await fetch(`${beacon.url}/t/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ann@example.com', plan: 'gold' }),
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      code: 'BEACON_E_SCHEMA_INVALID',
      message: 'event type "signup" does not match its schema: props.plan must be one of "free", "pro"',
    });

    const batch = await postBatch(beacon.url, [
      { type: 'signup', id: 'strict-bad', props: { plan: 'pro' } },
      { type: 'signup', id: 'strict-good', props: { email: 'ann@example.com', plan: 'free' } },
    ]);
    assert.equal(batch.body.accepted, 1);
    assert.deepEqual(
      batch.body.rejected.map((r) => [r.index, r.code, r.message]),
      [
        [
          0,
          'BEACON_E_SCHEMA_INVALID',
          'event type "signup" does not match its schema: props is missing the required property "email"',
        ],
      ],
    );

    await waitForValue('the valid event delivered', async () =>
      (await fileLines(join(beacon.dataDir, 'out', 'good.ndjson'))).some((e) => e.id === 'strict-good')
        ? true
        : undefined,
    );
    const lines = await fileLines(join(beacon.dataDir, 'out', 'good.ndjson'));
    assert.deepEqual(
      lines.map((e) => e.id),
      ['strict-good'],
    );
    const metrics = await (await fetch(`${beacon.url}/metrics`)).text();
    assert.match(metrics, /beacon_events_rejected_total\{source="http",code="BEACON_E_SCHEMA_INVALID"\} 2/);
  });
});

describe('beacon validate', () => {
  let dir: string;
  let configPath: string;
  before(async () => {
    dir = await dirWithSchemas();
    configPath = join(dir, 'beacon.yaml');
    await writeFile(
      configPath,
      stringify({
        schemas: { dir: join(dir, 'schemas') },
        sinks: [
          { name: 'archive', type: 'stdout' },
          { name: 'bad-rows', type: 'stdout', badStream: 'only' },
        ],
      }),
    );
  });

  it('prints a summary per type with the top reasons and exits 1 when any event is invalid', async () => {
    const file = join(dir, 'events.ndjson');
    const lines = [
      // the json codec's shape, as a file sink wrote it
      { id: 'a', type: 'signup', ts: 1, props: { email: 'ann@example.com', plan: 'pro' }, meta: { source: 'http' } },
      // /batch elements
      { type: 'signup', props: { email: 'x', plan: 'gold' } },
      { type: 'signup', props: { email: 'y', plan: 'pro' } },
      { type: 'click', props: {} },
      { type: 'bad type!' },
    ];
    await writeFile(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\nnot json\n`);
    const res = await runCli(['validate', '--config', configPath, '--show', '1', file]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(
      res.stdout,
      /^line 2 \(signup\): \{"type":"signup","props":\{"email":"x","plan":"gold"\}\}\n {2}- props\.email must match format "email"\n {2}- props\.plan must be one of "free", "pro"\n/,
    );
    assert.doesNotMatch(res.stdout, /^line 3/m, '--show 1 shows one');
    const row = (type: string) =>
      res.stdout
        .split('\n')
        .find((l) => l.startsWith(`${type} `))
        ?.split(/\s{2,}/);
    assert.deepEqual(row('signup'), [
      'signup',
      'yes',
      '3',
      '1',
      '2',
      'props.email must match format "email" (2); props.plan must be one of "free", "pro" (1)',
    ]);
    assert.deepEqual(row('click'), ['click', 'none', '1', '1', '0']);
    assert.deepEqual(row('bad type!')?.slice(0, 5), ['bad type!', 'none', '1', '0', '1']);
    assert.match(row('bad type!')?.[5] ?? '', /BEACON_E_BAD_TYPE/);
    assert.deepEqual(row('(unreadable)')?.slice(0, 5), ['(unreadable)', '-', '1', '0', '1']);
    assert.match(res.stdout, /6 events: 2 valid, 4 invalid/);
  });

  it('exits 0 when every event is valid, and shows progress on a big file', async () => {
    const file = join(dir, 'big.ndjson');
    const line = JSON.stringify({ type: 'signup', props: { email: 'ann@example.com', plan: 'free' } });
    await writeFile(file, `${line}\n`.repeat(50_000));
    const res = await runCli(['validate', '--config', configPath, '--progress-interval', '1', file], {
      timeoutMs: 60_000,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /50,000 events: 50,000 valid, 0 invalid/);
    assert.match(res.stderr, /validating: [\d,]+ events, [\d.]+ (KiB|MiB) of [\d.]+ MiB \(\d+%\)/);
  });

  it('exits 2 with the code when the check cannot run', async () => {
    const noSchemas = await runCli(['validate', join(dir, 'events.ndjson')]);
    assert.equal(noSchemas.code, 2);
    assert.match(noSchemas.stderr, /BEACON_E_CONFIG_FIELD: no schemas are configured/);
    await writeFile(join(dir, 'schemas', 'broken.json'), '{ "type": "object", "propertys": {} }');
    const broken = await runCli(['validate', '--config', configPath, join(dir, 'events.ndjson')]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /BEACON_E_SCHEMA_LOAD: .*broken\.json is not a usable JSON Schema/);
  });
});
