import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { configSchema } from '../../../src/config/schema.js';

/**
 * No container engine runs on the machines this project is tested on, so the image is never
 * built here. What can be checked without one is: the Dockerfile lints clean (dockerfile-utils,
 * the linter of VS Code's Docker support), every file it copies from the build context exists
 * and is not excluded by .dockerignore, and the runtime stage has the properties the
 * deployment relies on (non-root, health check, port, data volume, the CLI it starts).
 */

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const froms = dockerfile.getFROMs();
const stageNames = froms.map((f) => f.getBuildStage());

/** The instructions of stage `i` (from its FROM to the next one). */
function stage(i: number): Instruction[] {
  const start = froms[i]!.getRange().start.line;
  const end = i + 1 < froms.length ? froms[i + 1]!.getRange().start.line : Infinity;
  return dockerfile.getInstructions().filter((ins) => ins.getRange().start.line > start && ins.getRange().start.line < end);
}
const runtime = stage(froms.length - 1);
const find = (keyword: string) => runtime.filter((i) => i.getKeyword() === keyword);

/** A minimal .dockerignore matcher: plain entries exclude that path and everything under it; `*` globs within a name. */
function ignored(path: string): boolean {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return patterns.some((p) => {
    const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`);
    return re.test(path) || (!p.includes('/') && path.split('/').some((part) => re.test(part)));
  });
}

describe('the Dockerfile', () => {
  it('lints clean with dockerfile-utils', () => {
    assert.deepEqual(validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`), []);
  });

  it('is multi-stage: a build stage with dev dependencies, a production-dependencies stage, a runtime stage', () => {
    assert.deepEqual(stageNames, ['build', 'prod-deps', 'runtime']);
    const runs = (i: number) => stage(i).filter((ins) => ins.getKeyword() === 'RUN').map((ins) => ins.getArgumentsContent() ?? '');
    assert.ok(runs(0).some((r) => /npm ci\b/.test(r) && !r.includes('--omit=dev')), 'the build stage installs every dependency');
    assert.ok(runs(0).some((r) => r.includes('npm run build')), 'and builds');
    assert.ok(runs(1).some((r) => /npm ci\b.*--omit=dev/.test(r)), 'the prod-deps stage installs production dependencies only');
    const copiesFrom = runtime.filter((i) => i.getKeyword() === 'COPY').map((i) => /--from=(\S+)/.exec(i.getTextContent())?.[1]).filter(Boolean);
    assert.deepEqual(copiesFrom.sort(), ['build', 'prod-deps'], 'the runtime takes node_modules from prod-deps and dist from build');
    const build = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.ok(build.scripts.build, 'package.json has the build script the build stage runs');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const copies = dockerfile.getInstructions().filter((i) => i.getKeyword() === 'COPY' && !/--from=/.test(i.getTextContent()));
    assert.ok(copies.length > 0);
    for (const copy of copies) {
      const args = (copy.getArguments() ?? []).map((a) => a.getValue()).filter((a) => !a.startsWith('--'));
      for (const source of args.slice(0, -1)) {
        assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: exists in the repository`);
        assert.ok(!ignored(source), `COPY ${source}: not excluded by .dockerignore`);
      }
    }
    assert.ok(ignored('node_modules') && ignored('dist') && ignored('.git'), 'the context leaves out node_modules, dist and .git');
  });

  it('runs as a fixed non-root user', () => {
    const user = find('USER').at(-1)?.getArgumentsContent() ?? '';
    assert.match(user, /^\d+(:\d+)?$/, 'a numeric uid, so Kubernetes can check runAsNonRoot');
    assert.notEqual(user.split(':')[0], '0');
  });

  it('checks its health on /healthz, exposes the default port and keeps the data dir on a volume', () => {
    assert.match(find('HEALTHCHECK')[0]?.getTextContent() ?? '', /\/healthz/);
    const port = (configSchema.parse({}) as { server: { port: number } }).server.port;
    assert.equal(find('EXPOSE')[0]?.getArgumentsContent(), String(port));
    const packaged = readFileSync(join(ROOT, 'deploy', 'package', 'beacon.yaml'), 'utf8');
    const dataDir = /^dataDir:\s*(\S+)/m.exec(packaged)?.[1];
    assert.ok(find('VOLUME')[0]?.getArgumentsContent()?.includes(`"${dataDir}"`), `VOLUME is the config's dataDir ${dataDir}`);
  });

  it('starts the compiled CLI with the packaged config', () => {
    const entry = find('ENTRYPOINT')[0]?.getArgumentsContent() ?? '';
    assert.match(entry, /"\/opt\/beacon\/dist\/cli\/main\.js"/);
    assert.ok(existsSync(join(ROOT, 'src', 'cli', 'main.ts')), 'dist/cli/main.js is built from src/cli/main.ts');
    const cmd = find('CMD')[0]?.getArgumentsContent() ?? '';
    assert.match(cmd, /"start", "--config", "\/etc\/beacon\/beacon\.yaml"/);
    assert.ok(find('COPY').some((c) => c.getTextContent().includes('deploy/package/beacon.yaml /etc/beacon/beacon.yaml')));
  });
});
