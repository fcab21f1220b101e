#!/bin/sh
# Builds beacon_<version>_amd64.deb with dpkg-deb: /opt/beacon (the staged tree), /usr/bin/beacon,
# /etc/beacon/beacon.yaml and beacon.env (conffiles), /lib/systemd/system/beacon.service, and
# the maintainer scripts in deploy/package/deb/ (beacon user, /var/lib/beacon, stop/start).
# amd64 only: DuckDB's native binary in node_modules is the x64 build.
# Usage: make-deb.sh APP_DIR VERSION MIN_NODE OUT_DIR   (run from the repository root)
set -eu
app=$1
version=$2
min_node=$3
out=$4

# Debian sorts `~` before anything, so 1.0.0~rc.1 < 1.0.0 as semver's 1.0.0-rc.1 < 1.0.0.
deb_version=$(printf '%s' "$version" | tr '-' '~')
root="$out/deb-root"
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/opt" "$root/etc/beacon" "$root/lib/systemd/system" "$root/usr/bin"
cp -al "$app" "$root/opt/beacon" 2>/dev/null || cp -R "$app" "$root/opt/beacon"
install -m 0644 deploy/package/beacon.yaml deploy/package/beacon.env "$root/etc/beacon/"
install -m 0644 deploy/package/beacon.service "$root/lib/systemd/system/"
ln -s /opt/beacon/bin/beacon "$root/usr/bin/beacon"

size=$(du -sk "$root" | cut -f1)
sed -e "s/@DEB_VERSION@/$deb_version/" -e "s/@MIN_NODE@/$min_node/g" -e "s/@INSTALLED_SIZE@/$size/" \
  deploy/package/deb/control >"$root/DEBIAN/control"
install -m 0644 deploy/package/deb/conffiles "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "deploy/package/deb/$script" "$root/DEBIAN/$script"
done
chmod 0755 "$root/DEBIAN"

file="$out/beacon_${deb_version}_amd64.deb"
# gzip, not dpkg's default xz: xz takes minutes on the ~160 MB of node_modules for ~20% less.
dpkg-deb --root-owner-group -Zgzip -z6 --build "$root" "$file" >&2
rm -rf "$root"
echo "$file"
