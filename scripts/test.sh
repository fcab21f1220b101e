#!/bin/sh
# `npm test`: installs what is missing (npm packages, Debian packages), starts the machine's
# services if they are down, then runs typecheck, lint and every test that needs no more
# than those services: unit, integration (Beacon as a real process), conformance, and the
# quick rounds of the reliability (crash) tests.
set -eu
cd "$(dirname "$0")/.."
sh scripts/ensure-node-modules.sh
sh scripts/ensure-services.sh
# The browser tests (test/e2e) drive Debian's Chromium; the API cache test runs Debian's nginx.
sh scripts/ensure-debian-packages.sh chromium nginx
# The s3 sink's tests run a one-node OpenStack Swift with its S3 API (../shared/tools/s3-swift).
sh scripts/ensure-debian-packages.sh swift swift-proxy swift-account swift-container swift-object memcached
echo "== typecheck" && npx tsc -p tsconfig.json --noEmit && npx tsc -p tracker/tsconfig.json && npx tsc -p web/tsconfig.json
echo "== lint" && npx eslint . && npx prettier --check --log-level warn . && node scripts/import-cycles.mjs src
echo "== tests"
exec node scripts/run-tests.mjs test/unit test/conformance test/integration test/reliability test/e2e
