import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/freePort.js';
import { mustRun, runCommand, type CommandResult } from '../support/runCommand.js';
import { waitForValue, waitUntil } from '../support/waitFor.js';

/**
 * `npm run package` end to end, on this machine: build the tarball, the .deb and the RPM once,
 * install the .deb with dpkg, run the installed Beacon as the `beacon` user with the shipped
 * config (port and data dir moved by BEACON_ overrides), send an event and find it in the
 * sink's file, then remove and purge the package. systemd is not running here, so the unit is
 * checked with `systemd-analyze verify` and `security --offline`, not started.
 *
 * Takes 2-4 minutes, mostly the build (tsc, gzip of ~160 MB of node_modules three times), so
 * it lives with the long tests. The production node_modules are cached in release/.cache by
 * the lockfile's hash: only the first run on a machine pays for `npm ci`.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';
const DEV_ONLY = ['typescript', 'tsx', 'esbuild', 'eslint', 'playwright-core', 'fast-check'];

const isRoot = process.getuid?.() === 0;
const hasDpkg = existsSync('/usr/bin/dpkg-deb');
const skip = !hasDpkg
  ? 'dpkg-deb is not installed (not a Debian machine)'
  : !isRoot
    ? 'installing the .deb needs root'
    : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** dpkg, retried while another apt/dpkg run on the machine holds the lock. */
async function dpkg(args: string[]): Promise<CommandResult> {
  for (let attempt = 0; ; attempt++) {
    const result = await runCommand('dpkg', args, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', PATH },
      timeoutMs: 5 * 60_000,
    });
    if (result.code === 0) return result;
    if (/lock/i.test(result.stderr) && attempt < 90) {
      await sleep(2000);
      continue;
    }
    throw new Error(`dpkg ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
}

async function installedVersion(): Promise<string | undefined> {
  const q = await runCommand('dpkg-query', ['-W', '-f=${Status} ${Version}', 'beacon']);
  return q.code === 0 && q.stdout.includes('install ok installed') ? q.stdout.split(' ').at(-1) : undefined;
}

/** Leaves the machine without the beacon package (a previous run may have died half-way). */
async function purgeBeacon(): Promise<void> {
  const q = await runCommand('dpkg-query', ['-W', '-f=${Status}', 'beacon']);
  if (q.code === 0 && !q.stdout.includes('not-installed')) await dpkg(['--purge', 'beacon']);
}

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

describe('release packages (npm run package)', { timeout: 25 * 60_000, skip }, () => {
  let out: string;
  let buildSeconds = 0;
  const built = { tar: '', deb: '', rpm: '' };

  before(async () => {
    await mustRun('sh', ['scripts/ensure-debian-packages.sh', 'rpm'], { cwd: ROOT, timeoutMs: 10 * 60_000 });
    out = await mkdtemp(join(tmpdir(), 'beacon-pkg-'));
    const started = Date.now();
    const result = await mustRun('sh', ['scripts/package.sh', '--out', out], { cwd: ROOT, timeoutMs: 20 * 60_000 });
    buildSeconds = Math.round((Date.now() - started) / 1000);
    for (const line of result.stdout.trim().split('\n')) {
      if (line.endsWith('.tar.gz')) built.tar = line;
      else if (line.endsWith('.deb')) built.deb = line;
      else if (line.endsWith('.rpm')) built.rpm = line;
    }
    await purgeBeacon();
  });

  after(async () => {
    await purgeBeacon().catch(() => undefined);
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('builds the tarball, the .deb and the RPM, named after the version', (t) => {
    t.diagnostic(`npm run package took ${buildSeconds} s`);
    assert.equal(built.tar, join(out, `beacon-${VERSION}-linux-x64.tar.gz`));
    assert.equal(built.deb, join(out, `beacon_${VERSION.replaceAll('-', '~')}_amd64.deb`));
    assert.equal(built.rpm, join(out, `beacon-${VERSION.replaceAll('-', '~')}-1.x86_64.rpm`));
    for (const file of Object.values(built))
      assert.ok(statSync(file).size > 10 * 1024 * 1024, `${file} holds the app and its node_modules`);
  });

  describe('the tarball', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'beacon-tar-'));
      await mustRun('tar', ['-xzf', built.tar, '-C', dir], { timeoutMs: 5 * 60_000 });
      dir = join(dir, `beacon-${VERSION}`);
    });
    after(() => rm(join(dir, '..'), { recursive: true, force: true }));

    it('holds the compiled app, the tracker, the web page, the sample config, the unit and the licence', () => {
      for (const f of [
        'bin/beacon',
        'dist/cli/main.js',
        'dist/tracker/beacon.js',
        'dist/web/index.html',
        'package.json',
        'LICENSE',
        'README.md',
        'docs/deployment.md',
        'etc/beacon.yaml',
        'etc/beacon.env',
        'systemd/beacon.service',
      ]) {
        assert.ok(existsSync(join(dir, f)), `${f} is in the tarball`);
      }
      assert.equal(mode(join(dir, 'bin/beacon')), '755');
    });

    it('ships the production dependencies and none of the development ones', () => {
      const deps = Object.keys(
        (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> })
          .dependencies,
      );
      for (const dep of deps)
        assert.ok(existsSync(join(dir, 'node_modules', dep, 'package.json')), `${dep} is shipped`);
      for (const dev of DEV_ONLY)
        assert.ok(!existsSync(join(dir, 'node_modules', dev)), `${dev} (a dev dependency) is not shipped`);
      assert.ok(
        existsSync(join(dir, 'node_modules/@duckdb/node-bindings-linux-x64/duckdb.node')),
        "DuckDB's x64 binary is shipped",
      );
    });

    it('runs bin/beacon with the system Node.js from wherever it was unpacked', async () => {
      const res = await mustRun(join(dir, 'bin/beacon'), ['--version'], { env: { PATH } });
      assert.equal(res.stdout.trim(), VERSION);
    });

    it('refuses a Node.js older than engines.node with BEACON_E_NODE_VERSION and what to do', async () => {
      // A real node that reports 18.19.0, as Debian bookworm's own nodejs package would.
      const fake = join(dir, '..', 'node18');
      await writeFile(
        join(dir, '..', 'pretend18.cjs'),
        "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '18.19.0' } });\n",
      );
      await writeFile(fake, `#!/bin/sh\nexec node --require ${join(dir, '..', 'pretend18.cjs')} "$@"\n`);
      await chmod(fake, 0o755);
      const res = await runCommand(join(dir, 'bin/beacon'), ['--version'], { env: { PATH, BEACON_NODE: fake } });
      assert.equal(res.code, 1);
      assert.match(res.stderr, /error BEACON_E_NODE_VERSION: Beacon needs Node\.js 20\.\d+ or newer; .* is 18\.19\.0/);
      assert.match(res.stderr, /what to do: install Node\.js/);
    });
  });

  describe('the .deb, installed with dpkg on this machine', () => {
    before(() => dpkg(['-i', built.deb]));

    it('is installed under /opt/beacon with the config, the unit and /usr/bin/beacon', async () => {
      assert.equal(await installedVersion(), VERSION.replaceAll('-', '~'));
      for (const f of [
        '/opt/beacon/bin/beacon',
        '/opt/beacon/dist/cli/main.js',
        '/opt/beacon/dist/tracker/beacon.js',
        '/opt/beacon/dist/web/index.html',
        '/etc/beacon/beacon.yaml',
        '/etc/beacon/beacon.env',
        '/lib/systemd/system/beacon.service',
      ]) {
        assert.ok(existsSync(f), `${f} is installed`);
      }
      assert.ok(lstatSync('/usr/bin/beacon').isSymbolicLink());
      const res = await mustRun('/usr/bin/beacon', ['--version'], { env: { PATH } });
      assert.equal(res.stdout.trim(), VERSION);
      const conffiles = await mustRun('dpkg-query', ['-W', '-f=${Conffiles}', 'beacon']);
      assert.match(conffiles.stdout, /\/etc\/beacon\/beacon\.yaml [0-9a-f]{32}/);
      assert.match(conffiles.stdout, /\/etc\/beacon\/beacon\.env [0-9a-f]{32}/);
    });

    it('created the beacon system user, its data directory and a config only root and beacon can read', async () => {
      const passwd = (await mustRun('getent', ['passwd', 'beacon'])).stdout.trim().split(':');
      assert.ok(Number(passwd[2]) < 1000, `beacon is a system user (uid ${passwd[2]})`);
      assert.equal(passwd[5], '/var/lib/beacon');
      assert.equal(passwd[6], '/usr/sbin/nologin');
      const uid = Number(passwd[2]);
      assert.equal(statSync('/var/lib/beacon').uid, uid);
      assert.equal(mode('/var/lib/beacon'), '750');
      const gid = Number((await mustRun('getent', ['group', 'beacon'])).stdout.split(':')[2]);
      for (const f of ['/etc/beacon/beacon.yaml', '/etc/beacon/beacon.env']) {
        assert.equal(statSync(f).gid, gid, `${f} belongs to group beacon`);
        assert.equal(mode(f), '640');
      }
    });

    it('ships a unit that systemd-analyze verifies, with a low exposure score', async (t) => {
      if (!existsSync('/usr/bin/systemd-analyze')) {
        t.skip('systemd-analyze is not installed here');
        return;
      }
      // verify prints unknown or malformed directives as warnings and still exits 0: no output is the pass.
      const verify = await runCommand('systemd-analyze', ['verify', '/lib/systemd/system/beacon.service'], {
        timeoutMs: 60_000,
      });
      assert.equal(verify.code, 0, verify.stderr);
      assert.equal(
        `${verify.stdout}${verify.stderr}`.trim(),
        '',
        'systemd-analyze verify has nothing to say about the unit',
      );
      const security = await runCommand(
        'systemd-analyze',
        ['security', '--offline=yes', '--no-pager', '/lib/systemd/system/beacon.service'],
        { timeoutMs: 60_000 },
      );
      const score = /Overall exposure level for beacon\.service: ([\d.]+)/.exec(security.stdout);
      assert.ok(score, `security printed a score:\n${security.stdout}${security.stderr}`);
      t.diagnostic(`systemd-analyze security: exposure ${score[1]} (0 = fully locked down, 10 = unprotected)`);
      assert.ok(Number(score[1]) <= 2.5, `exposure ${score[1]} is at most 2.5`);
    });

    it('runs as the beacon user with the shipped config and writes a sent event to its sink', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'beacon-deb-data-'));
      const passwd = (await mustRun('getent', ['passwd', 'beacon'])).stdout.split(':');
      await chown(dataDir, Number(passwd[2]), Number(passwd[3]));
      const port = await freePort();
      const sinkFile = join(dataDir, 'out', 'events.ndjson');
      // The shipped config as it is; only what would clash on a shared machine is moved.
      const env = {
        PATH,
        BEACON_SERVER__HOST: '127.0.0.1',
        BEACON_SERVER__PORT: String(port),
        BEACON_SERVER__WORKERS: '1',
        BEACON_DATADIR: dataDir,
        BEACON_SINKS__0__PATH: sinkFile,
      };
      const check = await runCommand(
        'setpriv',
        [
          '--reuid=beacon',
          '--regid=beacon',
          '--init-groups',
          '--',
          '/usr/bin/beacon',
          'check-config',
          '--config',
          '/etc/beacon/beacon.yaml',
        ],
        { env, cwd: dataDir },
      );
      assert.equal(check.code, 0, `check-config accepts the shipped config:\n${check.stderr}`);

      let output = '';
      const child = spawn(
        'setpriv',
        [
          '--reuid=beacon',
          '--regid=beacon',
          '--init-groups',
          '--',
          '/opt/beacon/bin/beacon',
          'start',
          '--config',
          '/etc/beacon/beacon.yaml',
        ],
        { env, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      try {
        const url = `http://127.0.0.1:${port}`;
        await waitUntil(
          'the installed beacon to answer /readyz 200',
          async () =>
            (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.status ===
            200,
          60_000,
          200,
        ).catch((err: Error) => assert.fail(`${err.message}; its output:\n${output}`));
        const ps = await mustRun('ps', ['-o', 'user=', '-p', String(child.pid)]);
        assert.equal(ps.stdout.trim(), 'beacon', 'the process runs as beacon');

        const res = await fetch(`${url}/t/package_check`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ installedFrom: 'deb' }),
        });
        assert.equal(res.status, 204);
        const line = await waitForValue(
          'the event in the sink file',
          async () =>
            (await readFile(sinkFile, 'utf8').catch(() => '')).split('\n').find((l) => l.includes('package_check')),
          15_000,
          100,
        );
        const event = JSON.parse(line) as { type: string; props: Record<string, unknown> };
        assert.equal(event.type, 'package_check');
        assert.deepEqual(event.props, { installedFrom: 'deb' });
        assert.equal(statSync(sinkFile).uid, Number(passwd[2]), 'the sink file belongs to beacon');

        child.kill('SIGTERM');
        assert.equal(await exited, 0, `a SIGTERM stops it cleanly:\n${output}`);
      } finally {
        child.kill('SIGKILL');
        await rm(dataDir, { recursive: true, force: true });
      }
    });

    it('dpkg -r removes the program and keeps config and data; dpkg --purge removes those too', async () => {
      await writeFile('/var/lib/beacon/kept-on-remove', 'x');
      await dpkg(['-r', 'beacon']);
      for (const gone of ['/opt/beacon', '/usr/bin/beacon', '/lib/systemd/system/beacon.service'])
        assert.ok(!existsSync(gone), `${gone} is removed`);
      assert.ok(existsSync('/etc/beacon/beacon.yaml'), 'the config (a conffile) stays until purge');
      assert.ok(existsSync('/var/lib/beacon/kept-on-remove'), 'the data stays until purge');

      await dpkg(['--purge', 'beacon']);
      for (const gone of ['/etc/beacon', '/var/lib/beacon'])
        assert.ok(!existsSync(gone), `${gone} is removed by purge`);
      assert.equal(await installedVersion(), undefined);
    });
  });

  describe('the RPM', () => {
    it('lists the same layout: /opt/beacon, the config as noreplace config files, the unit and the data dir', async () => {
      const list = (await mustRun('rpm', ['-qlp', built.rpm])).stdout.split('\n');
      for (const f of [
        '/opt/beacon/bin/beacon',
        '/opt/beacon/dist/cli/main.js',
        '/opt/beacon/dist/tracker/beacon.js',
        '/opt/beacon/dist/web/index.html',
        '/opt/beacon/node_modules/@duckdb/node-bindings-linux-x64/duckdb.node',
        '/opt/beacon/LICENSE',
        '/etc/beacon/beacon.yaml',
        '/etc/beacon/beacon.env',
        '/usr/lib/systemd/system/beacon.service',
        '/usr/bin/beacon',
        '/var/lib/beacon',
      ]) {
        assert.ok(list.includes(f), `${f} is in the RPM`);
      }
      for (const dev of DEV_ONLY)
        assert.ok(!list.includes(`/opt/beacon/node_modules/${dev}`), `${dev} is not in the RPM`);

      const config = (await mustRun('rpm', ['-qcp', built.rpm])).stdout.trim().split('\n').sort();
      assert.deepEqual(config, ['/etc/beacon/beacon.env', '/etc/beacon/beacon.yaml']);
      const info = (await mustRun('rpm', ['-qp', '--qf', '%{NAME} %{VERSION} %{ARCH} %{LICENSE}', built.rpm])).stdout;
      assert.equal(info, `beacon ${VERSION.replaceAll('-', '~')} x86_64 Apache-2.0`);
    });

    it('creates the beacon user before install and gives it the data dir and read access to the config', async () => {
      const scripts = (await mustRun('rpm', ['-qp', '--scripts', built.rpm])).stdout;
      assert.match(scripts, /preinstall scriptlet[\s\S]*useradd -r -g beacon -d \/var\/lib\/beacon/);
      const long = (await mustRun('rpm', ['-qplv', built.rpm])).stdout.split('\n');
      const entry = (path: string) => long.find((l) => l.endsWith(` ${path}`));
      assert.match(entry('/var/lib/beacon') ?? '', /^drwxr-x---\s+\d+\s+beacon\s+beacon\s/);
      assert.match(entry('/etc/beacon/beacon.yaml') ?? '', /^-rw-r-----\s+\d+\s+root\s+beacon\s/);
      assert.match(entry('/opt/beacon/bin/beacon') ?? '', /^-rwxr-xr-x\s+\d+\s+root\s+root\s/);
    });
  });
});
