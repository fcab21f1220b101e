#!/bin/sh
# `npm test`: installs what is missing (npm packages, Debian packages), starts the machine's
# services if they are down, then runs typecheck, lint and every test that needs no more
# than those services: unit, integration (Beacon as a real process), conformance, and the
# quick rounds of the reliability (crash) tests.
set -eu
cd "$(dirname "$0")/.."
sh scripts/ensure-node-modules.sh
sh scripts/ensure-services.sh
echo "== typecheck" && npx tsc -p tsconfig.json --noEmit
echo "== lint" && npx eslint .
echo "== tests"
exec node scripts/run-tests.mjs test/unit test/conformance test/integration test/reliability
