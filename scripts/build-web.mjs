#!/usr/bin/env node
// Builds the web page (web/) into dist/web/: esbuild bundles web/src/main.ts and
// web/src/styles.css into content-hashed files under dist/web/assets/, and index.html is
// written from web/index.html with those names. Beacon serves dist/web at `/` (src/api/webPage.ts):
// index.html no-cache, assets cached for a year (a new build has new names).
//
// The new build is made in a temporary folder and swapped in, so a running Beacon never
// serves a half-written page.
//
//   node scripts/build-web.mjs          (part of `npm run build` and `npm start`)
import { build } from 'esbuild';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'web');
const tmp = join(root, 'dist', `web.tmp-${process.pid}`);
const old = join(root, 'dist', `web.old-${process.pid}`);

const started = Date.now();
await rm(tmp, { recursive: true, force: true });
await mkdir(tmp, { recursive: true });
try {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['web/src/main.ts', 'web/src/styles.css'],
    outdir: join(tmp, 'assets'),
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const names = {};
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (!info.entryPoint) continue;
    names[basename(info.entryPoint)] = basename(file);
  }
  const main = names['main.ts'];
  const styles = names['styles.css'];
  if (!main || !styles) throw new Error(`esbuild did not produce both entry points: ${JSON.stringify(names)}`);
  const template = await readFile(join(root, 'web', 'index.html'), 'utf8');
  await writeFile(join(tmp, 'index.html'), template.replace('%MAIN%', main).replace('%STYLES%', styles));

  // Swap: the old build moves aside first, so `dist/web` is missing for a moment at most.
  await rm(old, { recursive: true, force: true });
  await rename(out, old).catch((err) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(tmp, out);
  await rm(old, { recursive: true, force: true });
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + (o.bytes ?? 0), 0);
  console.log(
    `web page built into dist/web (${main}, ${styles}; ${Math.round(bytes / 1024)} KiB with source maps) in ${Date.now() - started} ms`,
  );
} catch (err) {
  await rm(tmp, { recursive: true, force: true });
  console.error(`web page build failed: ${err.message}`);
  process.exit(1);
}
