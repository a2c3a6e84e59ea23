#!/usr/bin/env bash
# Configures and builds tutti (RelWithDebInfo, ccache when present) into ./build,
# or with --sanitize address|thread into ./build-asan or ./build-tsan.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
dir=build
sanitize=""
case "${1:-}" in
  --sanitize)
    sanitize=${2:?"--sanitize needs address or thread"}
    case "$sanitize" in
      address) dir=build-asan ;;
      thread) dir=build-tsan ;;
      *) echo "build.sh: --sanitize takes address or thread, not '$sanitize'" >&2; exit 2 ;;
    esac ;;
  "") ;;
  *) echo "usage: tools/build.sh [--sanitize address|thread]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTUTTI_SANITIZE="$sanitize" >/dev/null
cmake --build "$dir" -j"$jobs"
