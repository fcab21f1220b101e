#!/bin/sh
# `npm run package`: builds Beacon's release packages from this checkout:
#   release/beacon-<version>-linux-x64.tar.gz   release/beacon_<version>_amd64.deb
#   release/beacon-<version>-1.x86_64.rpm
# Each holds the compiled code, the production node_modules and bin/beacon, which runs them
# with the system's Node.js (20.10 or newer; not bundled). docs/deployment.md explains how to
# install each one. Prints the built files, one per line, on stdout; progress goes to stderr.
#
#   npm run package
#   sh scripts/package.sh --formats deb --out /tmp/pkgs
#
# The production node_modules are cached in release/.cache (BEACON_PACKAGE_CACHE) by the
# lockfile's hash, so a second build skips the `npm ci`.
set -eu
cd "$(dirname "$0")/.."

out=release
formats=tar,deb,rpm
while [ "$#" -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --formats) formats=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for f in $(echo "$formats" | tr ',' ' '); do
  case $f in
    tar|deb|rpm) ;;
    *) echo "package: unknown format '$f'; use tar, deb and/or rpm" >&2; exit 2 ;;
  esac
done

sh scripts/ensure-node-modules.sh >&2
version=$(node -p "require('./package.json').version")
min_node=$(node -p "(/(\d+(?:\.\d+)?)/.exec(require('./package.json').engines.node) ?? ['', '20'])[1]")
# Archive times come from the last commit, so rebuilding the same commit gives the same tarball.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

mkdir -p "$out"
out=$(cd "$out" && pwd)
cache=${BEACON_PACKAGE_CACHE:-$PWD/release/.cache}
mkdir -p "$cache"
app="$out/stage-$$/beacon"
trap 'rm -rf "$out/stage-$$"' EXIT

started=$(date +%s)
sh deploy/package/stage-app.sh "$app" "$cache" "$min_node" >&2
for f in $(echo "$formats" | tr ',' ' '); do
  case $f in
    tar) sh deploy/package/make-tarball.sh "$app" "$version" "$out" ;;
    deb) sh deploy/package/make-deb.sh "$app" "$version" "$min_node" "$out" ;;
    rpm) sh deploy/package/make-rpm.sh "$app" "$version" "$min_node" "$out" ;;
  esac
done
echo "package: built $formats for $version in $(($(date +%s) - started)) s" >&2
