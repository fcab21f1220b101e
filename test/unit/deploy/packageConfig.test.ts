import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../src/config/load.js';
import { ROLES } from '../../../src/runtime/roles.js';

/**
 * The files the .deb and the RPM install into /etc and /lib/systemd must fit each other: the
 * unit starts the config the packages ship, every path Beacon writes is inside the one
 * directory the hardened unit leaves writable, and beacon.env names a real role and valid
 * overrides. (test/reliability/packages.test.ts installs them for real.)
 */

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PKG = join(ROOT, 'deploy', 'package');
const CONFIG = join(PKG, 'beacon.yaml');
const unit = readFileSync(join(PKG, 'beacon.service'), 'utf8');
const envFile = readFileSync(join(PKG, 'beacon.env'), 'utf8');

/** Values of `key=` in the unit (a key may appear more than once). */
function directive(key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

describe('the packaged config, unit and environment file (deploy/package)', () => {
  it('loads the shipped beacon.yaml without errors', async () => {
    const { config } = await loadConfig({ source: CONFIG, env: {} });
    assert.ok(config.sinks.length > 0);
    assert.equal(config.dataDir, '/var/lib/beacon');
  });

  it('writes only under the directory the unit leaves writable (ProtectSystem=strict)', async () => {
    const { config } = await loadConfig({ source: CONFIG, env: {} });
    const writable = directive('ReadWritePaths');
    assert.deepEqual(writable, [config.dataDir]);
    assert.deepEqual(directive('StateDirectory'), [config.dataDir.replace('/var/lib/', '')]);
    assert.equal(directive('WorkingDirectory')[0], config.dataDir);
    for (const sink of config.sinks as { name: string; path?: string }[]) {
      if (sink.path !== undefined) assert.ok(sink.path.startsWith(`${config.dataDir}/`), `sink ${sink.name} writes ${sink.path}, inside dataDir`);
    }
  });

  it('starts the installed CLI with the shipped config, the role from beacon.env, as the beacon user, hardened', () => {
    assert.deepEqual(directive('ExecStart'), ['/opt/beacon/bin/beacon start --config /etc/beacon/beacon.yaml --role ${ROLE}']);
    assert.deepEqual(directive('EnvironmentFile'), ['-/etc/beacon/beacon.env']);
    assert.deepEqual(directive('User'), ['beacon']);
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['PrivateTmp', 'yes'], ['ProtectHome', 'yes'], ['CapabilityBoundingSet', '']] as const) {
      assert.deepEqual(directive(key), [value], `${key}=${value}`);
    }
    assert.deepEqual(directive('MemoryDenyWriteExecute'), [], "not set: V8's JIT needs writable executable memory");
    const conffiles = readFileSync(join(PKG, 'deb', 'conffiles'), 'utf8').trim().split('\n');
    assert.deepEqual(conffiles, ['/etc/beacon/beacon.yaml', '/etc/beacon/beacon.env']);
  });

  it('beacon.env names a role beacon start knows, and its example overrides load', async () => {
    const role = /^ROLE=(\S+)$/m.exec(envFile)?.[1];
    assert.ok(role && (ROLES as readonly string[]).includes(role), `ROLE=${role}`);
    assert.deepEqual(directive('Environment'), [`ROLE=${role}`], 'the unit defaults to the same role');
    const examples = Object.fromEntries(
      [...envFile.matchAll(/^# (BEACON_[A-Z_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]).filter(([k]) => k !== 'BEACON_NODE'),
    );
    assert.ok(Object.keys(examples).length >= 2);
    const { overrides } = await loadConfig({ source: CONFIG, env: examples });
    assert.equal(overrides.length, Object.keys(examples).length, 'every example variable overrides a config key');
  });
});
