#!/usr/bin/env bash
# Builds the Debian packages: tutti_<version>_amd64.deb (tuttid, tutti, the
# systemd units, completions, docs) and tutti-tools_<version>_amd64.deb
# (tutti-bench, tutti-chaos), into ./packages.
#   tools/package.sh               a Release build of the programs in ./build-package
#   tools/package.sh --from DIR    the programs of an existing build (e.g. build)
#   tools/package.sh --version V   another version (build-package-V, into packages-V):
#                                  the newer build of tools/package-test.sh --upgrade
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-package
out=packages
version=""
from=""
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from=${2:?"--from needs a build directory"}; shift 2 ;;
    --version) version=${2:?"--version needs a version, e.g. 0.3.1"}; shift 2 ;;
    *) echo "usage: tools/package.sh [--from BUILD_DIR | --version X.Y.Z]" >&2; exit 2 ;;
  esac
done
if [ -n "$from" ] && [ -n "$version" ]; then
  echo "package.sh: --from and --version exclude each other (a version needs its own build)" >&2
  exit 2
fi
if [ -n "$from" ]; then
  dir=$from
else
  if [ -n "$version" ]; then dir=build-package-$version; out=packages-$version; fi
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    ${version:+-DTUTTI_VERSION=$version} >/dev/null
fi
jobs=${JOBS:-$(nproc)}
echo "package.sh: building the programs in $dir"
cmake --build "$dir" -j"$jobs" --target tuttid tutti tutti-log-copier tutti-bench tutti-chaos \
  tutti-completions
mkdir -p "$out"
outdir=$PWD/$out
(cd "$dir" && cpack -G DEB -B "$outdir" >/dev/null)
rm -rf "$out/_CPack_Packages"
ls -l "$out"/*.deb
