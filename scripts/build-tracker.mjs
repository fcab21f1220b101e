#!/usr/bin/env node
// Bundles and minifies the browser tracker (tracker/src/main.ts) into dist/tracker/beacon.js
// with esbuild. Part of `npm run build`; tests that need the bundle call buildTracker() when
// it is missing or older than its sources (test/support/trackerBundle.ts).
//
// The bundle is a function of its settings, called with `{}`: the collector that serves it
// replaces `/*BEACON_SETTINGS*/{}` with what the tracker needs from the server config
// (src/sources/http/trackerScript.ts). Banner and footer are emitted verbatim, and esbuild
// never renames the free name `__beaconSettings`, so the marker survives minification.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TRACKER_SOURCES = join(ROOT, 'tracker', 'src');
export const TRACKER_OUT = join(ROOT, 'dist', 'tracker', 'beacon.js');

/** Builds the bundle into `outFile` (written under a temporary name, then renamed); resolves with its sizes. */
export async function buildTracker(outFile = TRACKER_OUT) {
  const result = await build({
    entryPoints: [join(TRACKER_SOURCES, 'main.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020'],
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
    banner: { js: '(function(__beaconSettings){' },
    footer: { js: '})(/*BEACON_SETTINGS*/{});' },
  });
  const code = result.outputFiles[0].contents;
  mkdirSync(dirname(outFile), { recursive: true });
  const tmp = `${outFile}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, outFile);
  return { path: outFile, bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { path, bytes, gzipBytes } = await buildTracker();
  console.log(`tracker: ${path} (${bytes} bytes, ${gzipBytes} gzipped)`);
}
