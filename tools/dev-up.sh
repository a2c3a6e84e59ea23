#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running one-host cluster:
# installs packages, builds the programs it runs (not the tests: tools/build.sh
# builds everything), starts `tuttid dev` in the background (data in
# ./.tutti, log in ./.tutti/tuttid.log), applies examples/hello.yaml and shows
# the services. Stop it with: kill "$(cat .tutti/tuttid.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-$(nproc)}" --target tuttid tutti tutti-log-copier
mkdir -p .tutti
tutti=build/tools/tutti/tutti
if [ -f .tutti/tuttid.pid ] && kill -0 "$(cat .tutti/tuttid.pid)" 2>/dev/null; then
  echo "tuttid already running (pid $(cat .tutti/tuttid.pid))"
else
  nohup build/tools/tuttid/tuttid dev --data-dir .tutti >>.tutti/tuttid.log 2>&1 &
  echo $! > .tutti/tuttid.pid
  echo "started tuttid dev (pid $!), log in .tutti/tuttid.log"
fi
for _ in $(seq 1 100); do
  "$tutti" version >/dev/null 2>&1 && break
  sleep 0.1
done
"$tutti" apply -f examples/hello.yaml
for _ in $(seq 1 50); do
  running=$("$tutti" get services -o json | grep -o '"running": *[0-9]*' | grep -o '[0-9]*$' || true)
  [ "${running:-0}" -ge 3 ] && break
  sleep 0.1
done
"$tutti" get services
echo
echo "next: build/tools/tutti/tutti get replicas   |   build/tools/tutti/tutti describe service hello"
