#!/bin/sh
# bin/beacon of the release tarball, the .deb and the RPM: runs Beacon's compiled CLI with the
# system's Node.js. Packages do not bundle Node.js, so this checks the version first: Debian
# bookworm's own nodejs package is 18, too old, and would fail later with a less clear error.
#
#   /opt/beacon/bin/beacon start --config /etc/beacon/beacon.yaml
#   BEACON_NODE=/opt/node-v20/bin/node /opt/beacon/bin/beacon --version
#
# @MIN_NODE@ is replaced with package.json's engines.node minimum when the release is staged.
set -eu

min_node='@MIN_NODE@'
self=$(readlink -f "$0")
root=$(dirname "$(dirname "$self")")
node=${BEACON_NODE:-node}

fail() {
  echo "error BEACON_E_NODE_VERSION: $1" >&2
  echo "  what to do: install Node.js $min_node or newer (Debian bookworm's nodejs is 18: use the NodeSource or nodejs.org build), or set BEACON_NODE to its path (/etc/beacon/beacon.env for the service)" >&2
  exit 1
}

command -v "$node" >/dev/null 2>&1 || fail "Node.js was not found: no '$node' on PATH"
# The check runs in Node itself, so versions compare as numbers (20.9 < 20.10).
if ! found=$("$node" -e '
  const want = process.argv[1].split(".").map(Number);
  const have = process.versions.node.split(".").map(Number);
  const older = have[0] !== want[0] ? have[0] < want[0] : (have[1] ?? 0) < (want[1] ?? 0);
  console.log(process.versions.node);
  process.exit(older ? 1 : 0);
' "$min_node" 2>/dev/null); then
  fail "Beacon needs Node.js $min_node or newer; '$node' is ${found:-not runnable}"
fi

exec "$node" --enable-source-maps "$root/dist/cli/main.js" "$@"
