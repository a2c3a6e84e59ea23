#!/usr/bin/env bash
# Installs the Debian packages, builds, and runs every test through CTest.
# This is the command .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
cd build
# A test runs once: one that fails is a bug to find, never a run to repeat.
ctest --output-on-failure --timeout 300 -j"${CTEST_JOBS:-2}" "$@"
