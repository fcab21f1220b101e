#!/bin/sh
# `npm start`: installs what is missing, builds, and runs Beacon on its embedded defaults
# (port 8290, data under ./data, every event appended to ./data/out/events.ndjson).
# Extra arguments go to `beacon start`, e.g. `npm start -- --config beacon.yaml`.
set -eu
cd "$(dirname "$0")/.."
sh scripts/ensure-node-modules.sh
npx tsc -p tsconfig.build.json
node scripts/build-tracker.mjs
node scripts/build-web.mjs
exec node dist/cli/main.js start "$@"
