#!/usr/bin/env bash
# Installs the packages of tools/package.sh into a clean Debian 12 root made
# with debootstrap (needs root and a Debian mirror; minutes, so not in CI) and
# checks what a user gets: apt pulls the dependencies, tuttid and tutti run,
# the tutti user and /var/lib/tutti exist, the units verify, and a
# `tuttid dev` started from the installed files answers `tutti version`.
#   tools/package-test.sh [ROOT]   ROOT: a debootstrapped bookworm to reuse
# Prints the packages' sizes and the install time.
set -euo pipefail
cd "$(dirname "$0")/.."
debs=(packages/tutti_*_amd64.deb packages/tutti-tools_*_amd64.deb)
for f in "${debs[@]}"; do [ -f "$f" ] || { echo "package-test: no $f; run tools/package.sh" >&2; exit 2; }; done
root=${1:-}
made=""
if [ -z "$root" ]; then
  root=$(mktemp -d /tmp/tutti-pkgroot-XXXXXX)
  made=$root
  echo "package-test: debootstrap bookworm into $root"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
mounted=()
cleanup() {
  # The chroot shares the host's pid space: its tuttid is ended from here.
  if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; fi
  for ((i=${#mounted[@]}-1; i>=0; i--)); do umount "${mounted[$i]}" 2>/dev/null || true; done
  # Never into a bind mount left behind (it is the host's /dev, /proc, /sys).
  if [ -n "$made" ]; then
    if grep -q " $made/" /proc/mounts; then
      echo "package-test: $made still has mounts; left in place" >&2
    else
      rm -rf --one-file-system "$made"
    fi
  fi
  return 0
}
trap cleanup EXIT
for fs in proc sys dev; do mount --bind "/$fs" "$root/$fs"; mounted+=("$root/$fs"); done
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "${debs[@]}" "$root/tmp/"
start=$(date +%s.%N)
chroot "$root" apt-get update -qq
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  /tmp/$(basename "${debs[0]}") /tmp/$(basename "${debs[1]}") >/dev/null
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
chroot "$root" tuttid --version
chroot "$root" tutti --help >/dev/null
chroot "$root" getent passwd tutti >/dev/null
[ "$(chroot "$root" stat -c %U /var/lib/tutti)" = tutti ]
# The units as systemd sees them in that root (systemd installed there for its
# own units, which ours name).
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  systemd >/dev/null
systemd-analyze verify --man=no --root="$root" \
  "$root/lib/systemd/system/tuttid-control.service" "$root/lib/systemd/system/tuttid-node.service" \
  "$root/lib/systemd/system/tuttid-dev.service"
# The dev unit's command line, from the installed files.
chroot "$root" sh -c 'tuttid dev -c /etc/tutti/tuttid.yaml --no-docker --no-containerd \
  --api 127.0.0.1:47300 --metrics 127.0.0.1:47301 >/tmp/tuttid.log 2>&1 & echo $!' > "$root/tmp/pid"
pid=$(cat "$root/tmp/pid")
for i in $(seq 50); do
  chroot "$root" env TUTTI_TOKEN_FILE=/var/lib/tutti/admin.token tutti --api 127.0.0.1:47300 version \
    >/dev/null 2>&1 && break
  sleep 0.2 # -- polling interval of a deadline wait
done
chroot "$root" env TUTTI_TOKEN_FILE=/var/lib/tutti/admin.token tutti --api 127.0.0.1:47300 version
for f in "${debs[@]}"; do echo "package-test: $(basename "$f") $(stat -c %s "$f") bytes"; done
echo "package-test: apt install (with dependencies) took ${took} s"
echo "package-test: ok"
