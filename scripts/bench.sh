#!/bin/sh
# npm run bench [-- --quick] [-- --only pixel,batch] [-- --duration 10]
# Installs what the benchmark needs (nginx and wrk from Debian, node_modules), then runs
# bench/main.ts, which measures Beacon against a reference in the same run and appends the
# figures to docs/performance.md.
set -eu
cd "$(dirname "$0")/.."

sh scripts/ensure-debian-packages.sh nginx wrk

if [ ! -d node_modules ] || [ ! -e node_modules/.bin/tsx ]; then
  echo "bench: installing node_modules (npm install)" >&2
  npm install --no-audit --no-fund >&2
fi

exec node --import tsx bench/main.ts "$@"
