#!/bin/sh
# Installs npm dependencies when node_modules is missing or older than package-lock.json.
set -eu
cd "$(dirname "$0")/.."
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "Beacon needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "Install it (e.g. apt-get install nodejs, or from nodejs.org) and run this again." >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm dependencies..." >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
