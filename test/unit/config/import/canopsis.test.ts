import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canopsisToBeaconConfig, parseCanopsisTargets } from '../../../../src/config/import/canopsis.js';
import { loadConfig, validateConfig } from '../../../../src/config/load.js';
import { BeaconError } from '../../../../src/errors/beaconError.js';
import { runCli } from '../../../support/beaconProcess.js';

/** The sample from the Canopsis dispatcher how-to, as written there (comments, missing commas). */
const SEED_SAMPLE = `{
	"targets": [
		{
			//simple target definition
			"host"	: "my.target.server.net"
		},
		{
			//optional/custom parameters
			"host"	: "192.168.0.246"
			"user" 	: "guest"
			"port"	: "5672"
			"vhost"	: "canopsis"
		}
	],
	"params": {
		//optional/custom parameters
		"max_failover_duration" : 30
	}
}`;

/** The same sample with its commas fixed. */
const FIXED_SAMPLE = SEED_SAMPLE.replace('"192.168.0.246"\n', '"192.168.0.246",\n')
  .replace('"guest"\n', '"guest",\n')
  .replace('"5672"\n', '"5672",\n');

function parseFailure(text: string): BeaconError {
  try {
    parseCanopsisTargets(text, 'targets.json');
  } catch (err) {
    assert.ok(err instanceof BeaconError);
    return err;
  }
  assert.fail('expected the file to be refused');
}

describe('beacon import canopsis', () => {
  it('reads a good targets.json with comments, and maps every field', () => {
    const parsed = parseCanopsisTargets(FIXED_SAMPLE);
    assert.deepEqual(parsed, {
      targets: [
        { host: 'my.target.server.net' },
        { host: '192.168.0.246', user: 'guest', port: 5672, vhost: 'canopsis' },
      ],
      maxFailoverSeconds: 30,
    });
    const config = validateConfig(canopsisToBeaconConfig(parsed));
    assert.equal(config.dispatch.maxFailoverDuration, 30_000);
    assert.equal(config.dispatch.logEvery, 1000);
    assert.equal(config.sources.length, 1);
    assert.deepEqual(
      config.sinks.map((s) => [
        s.name,
        s.type,
        (s as { host?: string }).host,
        (s as { vhost?: string }).vhost,
        (s as { port?: number }).port,
      ]),
      [
        ['canopsis-my.target.server.net', 'rabbitmq', 'my.target.server.net', '/', 5672],
        ['canopsis-192.168.0.246-canopsis', 'rabbitmq', '192.168.0.246', 'canopsis', 5672],
      ],
    );
  });

  it('accepts /* block */ comments and // inside strings, and names duplicate targets apart', () => {
    const parsed = parseCanopsisTargets(
      '/* targets */ {"targets": [{"host": "a//b"}, {"host": "a//b"}], /* no params */ "params": {}}',
    );
    assert.deepEqual(parsed.targets, [{ host: 'a//b' }, { host: 'a//b' }]);
    assert.equal(parsed.maxFailoverSeconds, undefined);
    const config = validateConfig(canopsisToBeaconConfig(parsed));
    assert.deepEqual(
      config.sinks.map((s) => s.name),
      ['canopsis-a-b', 'canopsis-a-b-2'],
    );
    assert.equal(config.dispatch.maxFailoverDuration, 30_000, 'the dispatcher default of 30 s');
  });

  it("reports the seed sample's missing comma with its line", () => {
    const err = parseFailure(SEED_SAMPLE);
    assert.equal(err.code, 'BEACON_E_CONFIG_PARSE');
    assert.match(
      err.message,
      /^targets\.json line 10, column \d+: Expected ',' or '\}' after property value \(is a comma missing at the end of line 9\?\)/,
    );
  });

  it('reports an unclosed file, an unclosed comment and wrong field values clearly', () => {
    assert.match(parseFailure('{"targets": [{"host": "a"}]').message, /line 1, column \d+: .*/);
    assert.match(
      parseFailure('{"targets": [{"host": "a"}]} /* oops').message,
      /line 1, column 30: a \/\* comment is never closed/,
    );
    assert.match(parseFailure('{"targets": []}').message, /"targets" must be a non-empty list/);
    assert.match(parseFailure('{"targets": [{"user": "guest"}]}').message, /targets\[0\]\.host must be a host name/);
    assert.match(
      parseFailure('{"targets": [{"host": "a", "port": "amqp"}]}').message,
      /targets\[0\]\.port must be a port number, got "amqp"/,
    );
    assert.match(
      parseFailure('{"targets": [{"host": "a", "vhots": "x"}]}').message,
      /targets\[0\]\.vhots is not a target field/,
    );
    assert.match(
      parseFailure('{"targets": [{"host": "a"}], "params": {"max_failover_duration": -1}}').message,
      /max_failover_duration must be a number of seconds/,
    );
  });

  it('writes YAML that beacon check-config loads, with --out and --input-queue', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-import-'));
    writeFileSync(join(dir, 'targets.json'), FIXED_SAMPLE);
    const out = join(dir, 'beacon.yaml');
    const run = await runCli([
      'import',
      'canopsis',
      join(dir, 'targets.json'),
      '--input-queue',
      'events_in',
      '--out',
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const { config } = await loadConfig({ source: out, env: {} });
    assert.equal((config.sources[0] as { queue?: string }).queue, 'events_in');
    assert.equal(config.sinks.length, 2);
    assert.match(readFileSync(out, 'utf8'), /^# Imported from the Canopsis dispatcher config/);
    const check = await runCli(['check-config', '--config', out]);
    assert.equal(check.code, 0, check.stderr);

    writeFileSync(join(dir, 'bad.json'), SEED_SAMPLE);
    const bad = await runCli(['import', 'canopsis', join(dir, 'bad.json')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /BEACON_E_CONFIG_PARSE: .*bad\.json line 10/);
  });
});
