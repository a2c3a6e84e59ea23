#!/usr/bin/env bash
# Installs the Debian packages, builds, and runs every test through CTest.
# This is the command .ci/run runs.
#
#   tools/test.sh [CTEST ARGS...]                  the whole suite, in ./build
#   tools/test.sh --sanitize address|thread [...]  the unit and actor tests built
#       with ASan+UBSan (./build-asan) or TSan (./build-tsan); any report fails them
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=${2:?"--sanitize needs address or thread"}
  shift 2
  tools/build.sh --sanitize "$sanitize"
  supp="$PWD/tools/sanitizers"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"
  cd "build-$([ "$sanitize" = address ] && echo asan || echo tsan)"
  # Integration tests start tuttid and tutti as processes of their own; the
  # sanitizers look at the libraries through the unit and actor tests (the
  # sanitizer build leaves the integration tests out).
  exec ctest --output-on-failure --timeout 600 -LE integration -j"${CTEST_JOBS:-2}" "$@"
fi
tools/build.sh
cd build
# A test runs once: one that fails is a bug to find, never a run to repeat.
ctest --output-on-failure --timeout 300 -j"${CTEST_JOBS:-2}" "$@"
