#!/usr/bin/env bash
# Installs every Debian package tutti's build, tests and real components need.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config git curl iproute2 iptables procps python3
  clang libclang-rt-14-dev   # libFuzzer and the sanitizers: the fuzz build (docs/fuzzing.md)
  libcaf-dev
  libcapnp-dev capnproto
  liblmdb-dev lmdb-utils
  libyaml-cpp-dev
  prometheus-cpp-dev prometheus
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libcurl4-openssl-dev libssl-dev openssl
  busybox-static
  wrk
  docker.io containerd runc
  # The containerd driver: containerd's API .proto files (and gogoproto's, which
  # they import), compiled at build time with protoc and gRPC's C++ plugin.
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev
  etcd-server               # the etcd store backend's tests (docs/architecture.md)
  # The containerd driver's registry tests: a private registry (distribution
  # 2.8) they start themselves. On a systemd host the package also enables a
  # docker-registry service on :5000, which the tests do not need.
  docker-registry
  systemd                   # systemd-analyze: the tests verify tuttid's units (tools/packaging)
  dpkg-dev debootstrap      # tools/package.sh (dpkg-shlibdeps) and tools/package-test.sh
  # The dashboard's end-to-end test: headless Chromium driven by Selenium.
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
