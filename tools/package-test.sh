#!/usr/bin/env bash
# Installs the packages of tools/package.sh into a clean Debian 12 root made
# with debootstrap (needs root and a Debian mirror; minutes, so not in CI) and
# checks what a user gets: apt pulls the dependencies, tuttid and tutti run,
# the tutti user and /var/lib/tutti exist, the units verify, and a
# `tuttid dev` started from the installed files answers `tutti version`. Then a
# cluster as an operator makes one from the installed files: `tutti cluster
# init`, a control plane (as the tutti user) and two nodes joined with `tutti
# cluster join` on 127.0.0.2 and 127.0.0.3, a service of 4 replicas; then one
# node is upgraded (the packages of DIR installed over the running cluster and
# its tuttid restarted) while every replica's pid is watched.
#   tools/package-test.sh [--upgrade DIR] [ROOT]
#     DIR: newer packages (tools/package.sh --version 0.3.1 writes packages-0.3.1);
#          without it the node restarts on the same version
#     ROOT: a debootstrapped bookworm to reuse
# Prints the packages' sizes, the install time, the time from `cluster init` to
# the service running, and the replicas' downtime during the upgrade.
set -euo pipefail
cd "$(dirname "$0")/.."
upgrade=""
if [ "${1:-}" = --upgrade ]; then
  upgrade=${2:?"--upgrade needs a folder of newer packages"}
  shift 2
fi
debs=(packages/tutti_*_amd64.deb packages/tutti-tools_*_amd64.deb)
for f in "${debs[@]}"; do [ -f "$f" ] || { echo "package-test: no $f; run tools/package.sh" >&2; exit 2; }; done
if [ -n "$upgrade" ]; then
  newer=("$upgrade"/tutti_*_amd64.deb "$upgrade"/tutti-tools_*_amd64.deb)
  for f in "${newer[@]}"; do [ -f "$f" ] || { echo "package-test: no $f" >&2; exit 2; }; done
fi
root=${1:-}
made=""
if [ -z "$root" ]; then
  root=$(mktemp -d /tmp/tutti-pkgroot-XXXXXX)
  chmod 755 "$root" # a root file system: the tutti user must reach its libraries
  made=$root
  echo "package-test: debootstrap bookworm into $root"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
mounted=()
started=() # tuttid processes and replicas, ended from here: the chroot shares the pid space
end_pid() { kill "$1" 2>/dev/null && while kill -0 "$1" 2>/dev/null; do sleep 0.1; done; return 0; }
cleanup() {
  if [ -n "${pid:-}" ]; then end_pid "$pid"; fi
  for p in "${started[@]}"; do end_pid "$p"; done
  # Whatever else runs inside the root was started there by this test (a
  # replica placed after the pids above were read): its root is ours.
  for d in /proc/[0-9]*; do
    [ "$(readlink "$d/root" 2>/dev/null)" = "$root" ] && end_pid "${d#/proc/}"
  done
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
end_pid "$pid"; pid=""

# -- a cluster from the installed files ----------------------------------------
in_root() { chroot "$root" "$@"; }
# Starts a program in the root in the background; prints its pid.
spawn() {
  local log=$1; shift
  in_root sh -c "exec \"\$@\" >$log 2>&1 </dev/null & echo \$!" sh "$@"
}
# Waits until `tutti ARGS -o json` answers something `check` (python, on `x`) accepts.
wait_json() {
  local what=$1 check=$2; shift 2
  for _ in $(seq 150); do
    if in_root tutti "$@" -o json 2>/dev/null | python3 -c "import json,sys; x=json.load(sys.stdin); sys.exit(0 if ($check) else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1 # -- polling interval of a deadline wait (15 s)
  done
  echo "package-test: timed out waiting for $what" >&2
  for f in control n1 n2; do echo "--- $f"; tail -20 "$root/tmp/$f.log" 2>/dev/null || true; done >&2
  return 1
}
replica_pids() { # NODE: "id=pid ..." of its running replicas, sorted
  in_root tutti get replicas -o json | python3 -c "import json,sys; print(' '.join(sorted('%s=%s' % (r['id'], r['pid']) for r in json.load(sys.stdin) if r['node'] == '$1' and r['state'] == 'running')))"
}
t0=$(date +%s.%N)
in_root tutti cluster init --address 127.0.0.1 --name control --api-port 47310 --cluster-port 47311 \
  --data-dir /var/lib/tutti-control >/dev/null
# Three tuttid processes and dpkg share this machine: a longer node_loss_timeout
# (on every process of the cluster) keeps a busy dpkg from looking like a lost node.
slow_loss() { sed -i 's/^cluster:$/cluster:\n  node_loss_timeout: 10s/' "$root$1"; }
slow_loss /etc/tutti/tuttid.yaml
started+=("$(in_root sh -c 'exec setpriv --reuid=tutti --regid=tutti --init-groups \
  tuttid control -c /etc/tutti/tuttid.yaml --metrics 127.0.0.1:47312 >/tmp/control.log 2>&1 </dev/null & echo $!')")
wait_json "the control plane" "True" version
join=$(in_root tutti cluster join-command -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["command"])')
node_args() { # N: how node nN runs (on 127.0.0.N+1)
  echo "tuttid node -c /etc/tutti-n$1/tuttid.yaml --no-docker --no-containerd \
    --metrics 127.0.0.$(($1 + 1)):47312 --port-range 474${1}0-474${1}9"
}
for n in 1 2; do
  in_root $join --name n$n --address 127.0.0.$((n + 1)) --config-dir /etc/tutti-n$n \
    --data-dir /var/lib/tutti-n$n >/dev/null
  slow_loss /etc/tutti-n$n/tuttid.yaml
  started+=("$(spawn /tmp/n$n.log $(node_args $n))")
done
printf 'kind: Service\nname: sleepers\nreplicas: 4\ncommand: [/bin/sleep, "3600"]\n' >"$root/tmp/sleepers.yaml"
wait_json "two nodes" "len([n for n in x if n['state'] == 'ready']) == 2" get nodes
in_root tutti apply -f /tmp/sleepers.yaml >/dev/null
wait_json "4 replicas on 2 nodes" "len([r for r in x if r['state'] == 'running']) == 4 and len({r['node'] for r in x}) == 2" get replicas
up=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
for p in $(in_root tutti get replicas -o json | python3 -c 'import json,sys; print(" ".join(str(r["pid"]) for r in json.load(sys.stdin)))'); do
  started+=("$p")
done

# -- upgrading node n2 while its replicas run ----------------------------------
before=$(replica_pids n2)
old_version=$(in_root tuttid --version)
if [ -n "$upgrade" ]; then
  cp "${newer[@]}" "$root/tmp/"
  in_root env DEBIAN_FRONTEND=noninteractive nice -n 19 ionice -c 3 apt-get install -y -qq \
    --no-install-recommends -o Dpkg::Options::=--force-confold /tmp/$(basename "${newer[0]}") /tmp/$(basename "${newer[1]}") >/dev/null
fi
# Every 10 ms while n2's agent restarts: is each of its replicas' processes alive?
watch_pids=$(echo "$before" | tr ' ' '\n' | cut -d= -f2)
( missing=0
  while [ ! -f "$root/tmp/upgrade.done" ]; do
    for p in $watch_pids; do kill -0 "$p" 2>/dev/null || missing=$((missing + 1)); done
    sleep 0.01
  done
  echo "$missing" >"$root/tmp/upgrade.missing" ) &
watcher=$!
node_pid=${started[2]}
end_pid "$node_pid"
started[2]=$(spawn /tmp/n2.log $(node_args 2))
wait_json "n2 to come back" "any(n['name'] == 'n2' and n['state'] == 'ready' for n in x)" get nodes
wait_json "n2's replicas adopted" "len([r for r in x if r['node'] == 'n2' and r['state'] == 'running']) == 2" get replicas
touch "$root/tmp/upgrade.done"
wait "$watcher"
after=$(replica_pids n2)
missing=$(cat "$root/tmp/upgrade.missing")
new_version=$(in_root tuttid --version)
if [ "$before" != "$after" ] || [ "$missing" != 0 ]; then
  echo "package-test: n2's replicas changed during the upgrade: before '$before', after '$after', $missing missing samples" >&2
  exit 1
fi
in_root tutti delete sleepers >/dev/null
wait_json "the replicas to stop" "len(x) == 0" get replicas

for f in "${debs[@]}"; do echo "package-test: $(basename "$f") $(stat -c %s "$f") bytes"; done
echo "package-test: apt install (with dependencies) took ${took} s"
echo "package-test: cluster init to 4 replicas running on 2 joined nodes: ${up} s"
echo "package-test: upgrade of n2: $old_version -> $new_version; its replicas kept their pids ($after); downtime 0 (no sample of 10 ms found one missing)"
echo "package-test: ok"
