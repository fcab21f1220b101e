#!/bin/sh
# Installs the named Debian packages when they are missing; does nothing (and prints nothing)
# when they are all present. Idempotent, safe to call from several scripts.
#
#   sh scripts/ensure-debian-packages.sh nginx wrk
#
# Runs apt-get update at most once, and only when something has to be installed. Needs root
# (or sudo without a password). Exits non-zero, naming the packages, when the install fails.
set -eu

if [ "$#" -eq 0 ]; then
  echo "usage: $0 PACKAGE..." >&2
  exit 2
fi

is_installed() {
  # `dpkg -s` succeeds for packages that were removed but left config files ("deinstall"),
  # so check the status line too.
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=""
for pkg in "$@"; do
  if ! is_installed "$pkg"; then
    missing="$missing $pkg"
  fi
done

[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-debian-packages: missing:$missing, and apt-get is not available; install them by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "ensure-debian-packages: missing:$missing; run as root (or with passwordless sudo) to install" >&2
    exit 1
  fi
fi

echo "ensure-debian-packages: installing$missing" >&2

export DEBIAN_FRONTEND=noninteractive
APT_OPTS="-o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3"
log=$(mktemp "${TMPDIR:-/tmp}/ensure-debian-packages.XXXXXX")
added_policy=""
trap 'rm -f "$log"' EXIT

# shellcheck disable=SC2086
if ! $SUDO apt-get $APT_OPTS update -q >"$log" 2>&1; then
  echo "ensure-debian-packages: apt-get update failed:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi

# Don't let an installed service (nginx) start during the install: policy-rc.d 101 = "not allowed".
# Only add it when none exists, and remove only the one we added.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ] && [ -z "$SUDO" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
fi
cleanup() {
  rm -f "$log"
  if [ -n "$added_policy" ]; then rm -f "$policy"; fi
}
trap cleanup EXIT

# shellcheck disable=SC2086
if ! $SUDO apt-get $APT_OPTS install -y -q --no-install-recommends $missing >"$log" 2>&1; then
  echo "ensure-debian-packages: apt-get install failed for:$missing" >&2
  tail -n 30 "$log" >&2
  exit 1
fi

for pkg in $missing; do
  if ! is_installed "$pkg"; then
    echo "ensure-debian-packages: $pkg still not installed after apt-get install" >&2
    exit 1
  fi
done
echo "ensure-debian-packages: installed$missing" >&2
