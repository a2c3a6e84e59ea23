#!/usr/bin/env bash
# Builds the Debian packages: tutti_<version>_amd64.deb (tuttid, tutti, the
# systemd units, completions, docs) and tutti-tools_<version>_amd64.deb
# (tutti-bench, tutti-chaos), into ./packages.
#   tools/package.sh               a Release build of the programs in ./build-package
#   tools/package.sh --from DIR    the programs of an existing build (e.g. build)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-package
case "${1:-}" in
  --from) dir=${2:?"--from needs a build directory"} ;;
  "")
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null ;;
  *) echo "usage: tools/package.sh [--from BUILD_DIR]" >&2; exit 2 ;;
esac
jobs=${JOBS:-$(nproc)}
echo "package.sh: building the programs in $dir"
cmake --build "$dir" -j"$jobs" --target tuttid tutti tutti-log-copier tutti-bench tutti-chaos \
  tutti-completions
mkdir -p packages
(cd "$dir" && cpack -G DEB -B "$PWD/../packages" >/dev/null)
rm -rf packages/_CPack_Packages
ls -l packages/*.deb
