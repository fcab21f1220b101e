#!/bin/sh
# Stages the application tree that every package ships under /opt/beacon:
#   bin/beacon  dist/ (compiled CLI, dist/tracker, dist/web)  node_modules/ (production only)
#   package.json  LICENSE  README.md  docs/
# Usage: stage-app.sh APP_DIR CACHE_DIR MIN_NODE   (run from the repository root; APP_DIR is replaced)
#
# The compiled code goes straight into APP_DIR (not the repository's dist/), so a stale file
# left in dist/ by an older build is never shipped and a running dev Beacon is not disturbed.
# Production node_modules come from `npm ci --omit=dev` against package-lock.json and are
# cached in CACHE_DIR by the lockfile's hash, Node's major version and the CPU architecture:
# a second build with the same lockfile copies them (hard links where it can) instead of
# installing again.
set -eu
app=$1
cache=$2
min_node=$3

echo "package: staging $app" >&2
rm -rf "$app"
mkdir -p "$app/bin" "$app/dist"

npx tsc -p tsconfig.build.json --outDir "$app/dist"
node --input-type=module -e "
  const { buildTracker } = await import('./scripts/build-tracker.mjs');
  await buildTracker(process.argv[1]);
" "$app/dist/tracker/beacon.js"
# build-web.mjs builds into the repository's dist/web with an atomic swap; copy its result.
node scripts/build-web.mjs
cp -R dist/web "$app/dist/web"

# engines, type (dist/ is ES modules) and dependencies are all the installed tree needs.
node --input-type=module -e "
  import { readFileSync, writeFileSync } from 'node:fs';
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const keep = ['name', 'version', 'description', 'license', 'type', 'engines', 'dependencies'];
  writeFileSync(process.argv[1], JSON.stringify(Object.fromEntries(keep.map((k) => [k, pkg[k]])), null, 2) + '\n');
" "$app/package.json"

key=$(cat package-lock.json | sha256sum | cut -c1-16)-node$(node -p 'process.versions.node.split(".")[0]')-$(node -p process.arch)
modules="$cache/node_modules-$key"
if [ ! -d "$modules" ]; then
  echo "package: installing production dependencies into $modules" >&2
  work="$cache/tmp-$$"
  rm -rf "$work"
  mkdir -p "$work"
  cp package.json package-lock.json "$work/"
  # --ignore-scripts: no production dependency needs its install script (DuckDB's binary comes
  # as a platform package), and skipping them keeps the build the same on every machine.
  (cd "$work" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  mv "$work/node_modules" "$modules"
  rm -rf "$work"
fi
cp -al "$modules" "$app/node_modules" 2>/dev/null || cp -R "$modules" "$app/node_modules"

sed "s/@MIN_NODE@/$min_node/" deploy/package/beacon.sh >"$app/bin/beacon"
chmod 0755 "$app/bin/beacon"

cp LICENSE README.md "$app/"
cp -R docs "$app/docs"
