#!/bin/sh
# Builds beacon-<version>-linux-x64.tar.gz: the staged application tree under one top folder
# beacon-<version>/, plus etc/beacon.yaml, etc/beacon.env and systemd/beacon.service to copy
# into place by hand (docs/deployment.md, "From the tarball").
# Usage: make-tarball.sh APP_DIR VERSION OUT_DIR   (run from the repository root)
set -eu
app=$1
version=$2
out=$3

name="beacon-$version"
work="$out/tar"
rm -rf "$work"
mkdir -p "$work"
cp -al "$app" "$work/$name" 2>/dev/null || cp -R "$app" "$work/$name"
mkdir -p "$work/$name/etc" "$work/$name/systemd"
cp deploy/package/beacon.yaml deploy/package/beacon.env "$work/$name/etc/"
cp deploy/package/beacon.service "$work/$name/systemd/"

file="$out/$name-linux-x64.tar.gz"
# Fixed owner, order and times: the same sources give the same archive.
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH:-0}" \
  -cf - "$name" | gzip -n -6 >"$file.tmp"
mv "$file.tmp" "$file"
rm -rf "$work"
echo "$file"
