#!/bin/sh
# Builds beacon-<version>-1.x86_64.rpm with rpmbuild (Debian's `rpm` package is enough): the
# same layout as the .deb, with the unit in /usr/lib/systemd/system as RPM distributions keep it.
# Usage: make-rpm.sh APP_DIR VERSION MIN_NODE OUT_DIR   (run from the repository root)
set -eu
app=$1
version=$2
min_node=$3
out=$4

if ! command -v rpmbuild >/dev/null 2>&1; then
  echo "package: rpmbuild not found; install it with: sh scripts/ensure-debian-packages.sh rpm" >&2
  exit 1
fi

rpm_version=$(printf '%s' "$version" | tr '-' '~')
top="$out/rpmbuild"
stage="$out/rpm-root"
rm -rf "$top" "$stage"
mkdir -p "$top/SPECS" "$top/RPMS" "$top/BUILD" "$stage/opt" "$stage/etc/beacon" \
  "$stage/usr/lib/systemd/system" "$stage/usr/bin" "$stage/var/lib/beacon"
cp -al "$app" "$stage/opt/beacon" 2>/dev/null || cp -R "$app" "$stage/opt/beacon"
install -m 0644 deploy/package/beacon.yaml deploy/package/beacon.env "$stage/etc/beacon/"
install -m 0644 deploy/package/beacon.service "$stage/usr/lib/systemd/system/"
ln -s /opt/beacon/bin/beacon "$stage/usr/bin/beacon"

sed -e "s/@RPM_VERSION@/$rpm_version/" -e "s/@MIN_NODE@/$min_node/g" \
  deploy/package/rpm/beacon.spec >"$top/SPECS/beacon.spec"
rpmbuild -bb --quiet \
  --define "_topdir $(cd "$top" && pwd)" \
  --define "stage $(cd "$stage" && pwd)" \
  "$top/SPECS/beacon.spec" >&2

file="$out/beacon-$rpm_version-1.x86_64.rpm"
mv "$top/RPMS/x86_64/beacon-$rpm_version-1.x86_64.rpm" "$file"
rm -rf "$top" "$stage"
echo "$file"
