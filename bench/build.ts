/**
 * Compiles Beacon the way a user's `npm run build` does (tsc -p tsconfig.build.json → dist/),
 * so the bench measures the JavaScript a user runs: `node dist/cli/main.js`. Running the
 * TypeScript through tsx instead adds a loader thread and an esbuild child to every process,
 * which inflates RSS (by tens of MiB per process) and start-up time.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.js';

export async function buildBeacon(root: string, log: (msg: string) => void): Promise<string> {
  const entry = join(root, 'dist/cli/main.js');
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const started = Date.now();
  const res = await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], 300_000, { cwd: root });
  if (res.timedOut) throw new Error('tsc -p tsconfig.build.json did not finish within 5 minutes');
  if (!existsSync(entry) || statSync(entry).mtimeMs < started - 1000) {
    throw new Error(`tsc -p tsconfig.build.json did not produce ${entry}:\n${(res.stdout + res.stderr).slice(-2000)}`);
  }
  if (res.code !== 0) {
    // tsc still emits on type errors; the code that runs is what a user would get from it.
    const errors = (res.stdout + res.stderr).split('\n').filter((l) => l.includes('error TS'));
    log(
      `build: tsc reported ${errors.length} type error(s) (first: ${errors[0]?.trim() ?? '?'}); measuring the JavaScript it emitted`,
    );
  }
  log(`build: compiled src/ to dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return entry;
}
